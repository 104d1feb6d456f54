"""Schema migrations, applied in order at start; the store records how many have run.

One SQL text for both engines; `{BLOB}` and `{SEQ}` are filled in per engine (`render`).
Times of day are ISO 8601 UTC text (sortable); spool times are epoch seconds (arithmetic).
"""

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE spool_message (
        id TEXT PRIMARY KEY,
        received_at DOUBLE PRECISION NOT NULL,
        sender TEXT NOT NULL,
        message_id TEXT NOT NULL DEFAULT '',
        session_id TEXT NOT NULL DEFAULT '',
        client TEXT NOT NULL DEFAULT '',
        auth_user TEXT NOT NULL DEFAULT '',
        purpose TEXT NOT NULL DEFAULT '',
        topic TEXT NOT NULL DEFAULT '',
        data {BLOB} NOT NULL
    );
    CREATE TABLE spool_recipient (
        message_id TEXT NOT NULL,
        address TEXT NOT NULL,
        prefix {BLOB},
        data {BLOB},
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt DOUBLE PRECISION NOT NULL,
        last_reply TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (message_id, address)
    );
    CREATE INDEX spool_recipient_due ON spool_recipient (next_attempt);
    CREATE TABLE decision (
        seq {SEQ},
        id TEXT NOT NULL UNIQUE,
        time TEXT NOT NULL,
        instance TEXT NOT NULL DEFAULT '',
        session_id TEXT NOT NULL DEFAULT '',
        message_id TEXT NOT NULL DEFAULT '',
        client TEXT NOT NULL DEFAULT '',
        auth_user TEXT NOT NULL DEFAULT '',
        sender TEXT NOT NULL DEFAULT '',
        recipient TEXT NOT NULL DEFAULT '',
        purpose TEXT NOT NULL DEFAULT '',
        topic TEXT NOT NULL DEFAULT '',
        jurisdiction TEXT NOT NULL DEFAULT '',
        phase TEXT NOT NULL,
        action TEXT NOT NULL,
        basis TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT '',
        rule TEXT NOT NULL DEFAULT '',
        cite TEXT NOT NULL DEFAULT '',
        queue_id TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX decision_time ON decision (time);
    CREATE INDEX decision_recipient ON decision (recipient, seq);
    CREATE INDEX decision_message ON decision (message_id, seq);
    CREATE INDEX decision_reason ON decision (reason, seq);
    """,
    # Consent data is keyed by the canonical address, so an import or a look-up never needs a
    # second query to find a contact's id.
    """
    CREATE TABLE contact (
        address TEXT PRIMARY KEY,
        original TEXT NOT NULL,
        country TEXT,
        source TEXT,
        created_at TEXT NOT NULL,
        last_engaged_at TEXT
    );
    CREATE TABLE consent (
        address TEXT NOT NULL,
        topic TEXT NOT NULL,
        granted_at TEXT,
        double_opt_in_at TEXT,
        withdrawn_at TEXT,
        source TEXT,
        proof TEXT,
        PRIMARY KEY (address, topic)
    );
    CREATE TABLE consent_event (
        seq {SEQ},
        address TEXT NOT NULL,
        topic TEXT NOT NULL,
        kind TEXT NOT NULL,
        at TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        proof TEXT NOT NULL DEFAULT '',
        UNIQUE (address, topic, kind, at)
    );
    CREATE TABLE relationship (
        address TEXT NOT NULL,
        kind TEXT NOT NULL,
        last_at TEXT NOT NULL,
        categories TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (address, kind)
    );
    CREATE TABLE suppression (
        address TEXT NOT NULL,
        scope TEXT NOT NULL,
        reason TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        PRIMARY KEY (address, scope, reason)
    );
    CREATE INDEX decision_purpose ON decision (purpose, seq);
    CREATE INDEX decision_action ON decision (action, seq);
    """,
    """
    CREATE TABLE meta (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE INDEX decision_sender ON decision (sender, seq);
    CREATE INDEX decision_jurisdiction ON decision (jurisdiction, seq);
    CREATE INDEX contact_engaged ON contact (last_engaged_at);
    """,
    # /metrics reads the oldest message's age and /ops/queue pages in arrival order from
    # this index, never the whole spool (issue 11).
    """
    CREATE INDEX spool_message_received ON spool_message (received_at, id);
    """,
    # Reports that come back (docs/design.md §8): a report names its original by queue id
    # (VERP, X-Gatekeeper-Ref); a sender domain paused by the complaint-rate brake stays
    # paused across restarts and instances until `gatekeeper senders resume`.
    """
    CREATE INDEX decision_queue ON decision (queue_id, seq);
    CREATE TABLE sender_pause (
        domain TEXT PRIMARY KEY,
        paused_at TEXT NOT NULL,
        resumed_at TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT ''
    );
    """,
    # Events to the application (docs/design.md §9): an outbox row per event and endpoint,
    # written in the batch of the decision that caused it, so a crash loses neither; and the
    # provider webhook requests already taken (docs/design.md §8), so a replay changes nothing.
    """
    CREATE TABLE event (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        type TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt DOUBLE PRECISION NOT NULL,
        last_error TEXT NOT NULL DEFAULT '',
        delivered_at TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX event_due ON event (status, next_attempt);
    CREATE TABLE hook_seen (
        provider TEXT NOT NULL,
        key TEXT NOT NULL,
        seen_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (provider, key)
    );
    """,
    # Several instances on one store (docs/fleet.md): who holds a leased recipient (empty =
    # nobody: due, or waiting for its retry), and each instance's heartbeat.
    """
    ALTER TABLE spool_recipient ADD COLUMN holder TEXT NOT NULL DEFAULT '';
    CREATE INDEX spool_recipient_holder ON spool_recipient (holder);
    CREATE TABLE instance (
        name TEXT PRIMARY KEY,
        started_at TEXT NOT NULL,
        seen_at DOUBLE PRECISION NOT NULL,
        smtp TEXT NOT NULL DEFAULT '',
        http TEXT NOT NULL DEFAULT '',
        backlog INTEGER NOT NULL DEFAULT 0
    );
    """,
    # The dashboard's events page (/ops/events) pages the outbox newest first by keyset.
    """
    CREATE INDEX event_created ON event (created_at, id);
    """,
    # The decision log as a hash chain per instance (docs/accountability.md): each row's
    # place, the previous row's hash and its own; where a chain resumes after a purge and
    # the checkpoints it must still reach; and the last row written before the chain, which
    # alone may carry no link.
    """
    ALTER TABLE decision ADD COLUMN chain_n BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE decision ADD COLUMN chain_prev TEXT NOT NULL DEFAULT '';
    ALTER TABLE decision ADD COLUMN chain_hash TEXT NOT NULL DEFAULT '';
    CREATE INDEX decision_chain ON decision (instance, seq);
    CREATE TABLE chain_anchor (
        instance TEXT NOT NULL,
        n BIGINT NOT NULL,
        head TEXT NOT NULL,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        rows BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (instance, kind, n)
    );
    INSERT INTO meta (name, value)
        SELECT 'chain_legacy_seq', CAST(coalesce(max(seq), 0) AS TEXT) FROM decision;
    """,
)


DIALECTS: dict[str, dict[str, str]] = {
    "sqlite": {"BLOB": "BLOB", "SEQ": "INTEGER PRIMARY KEY"},
    "postgresql": {"BLOB": "BYTEA", "SEQ": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"},
}


def render(dialect: str) -> list[str]:
    return [script.format(**DIALECTS[dialect]) for script in MIGRATIONS]
