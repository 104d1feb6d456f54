"""Contacts, consents and their history, suppressions, erasure and retention over any engine."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice

from gateway.policy.facts import RecipientFacts
from gateway.store.chain_store import INSERT_ANCHOR, PURGE_CUTS, PURGE_PREFIX
from gateway.store.consent_sql import (
    CONTACT_VIEW_QUERIES,
    DECISION_DETAILS,
    DELETE_CONSENT,
    DELETE_EMPTY_MESSAGES,
    DISTINCT_SENDERS,
    DISTINCT_SPOOLED,
    ENSURE_CONTACT,
    FORGET_CONTACT,
    FORGET_KEYED,
    FORGET_RECIPIENT,
    FORGET_SENDER,
    FORGET_SPOOLED,
    IMPORT_CHUNK,
    INACTIVE_CONSENTS,
    INSERT_EVENT,
    INSERT_SUPPRESSION,
    META_DEFAULT,
    META_VALUE,
    SET_DETAIL,
    SUPPRESSIONS_OF,
    SUPPRESSIONS_OF_KEYS,
    SUPPRESSIONS_PAGE,
    TOUCHED_COUNTS,
    consent_state_params,
    contact_view,
    import_batches,
    scrub,
    spellings,
    unsuppress_sql,
)
from gateway.store.dialect import Connection, Engine
from gateway.store.facts_sql import FACTS_UNION, build_facts, facts_keys, split_facts_union
from gateway.store.records import (
    ConsentEvent,
    ContactRow,
    ContactView,
    ImportCounts,
    SuppressionEntry,
    iso_now,
)


class ConsentSide(Engine):
    async def recipient_facts(
        self, addresses: Sequence[str], suppressed_only: Sequence[str] = ()
    ) -> dict[str, RecipientFacts]:
        unique, either = facts_keys(addresses, suppressed_only)
        if not either:
            return {}
        (known, known_params), (any_, any_params) = map(self.dialect.key_list, (unique, either))
        sql = FACTS_UNION.format(known, any_)
        rows = await self.lookup_rows(sql, known_params * 3 + any_params)
        return build_facts(split_facts_union(rows))

    async def import_contacts(self, rows: Iterable[ContactRow]) -> ImportCounts:
        counts = ImportCounts()
        now = iso_now()
        async with self.transaction() as db:
            iterator = iter(rows)
            while chunk := list(islice(iterator, IMPORT_CHUNK)):
                keys = list(dict.fromkeys(row.address for row in chunk))
                before = await self._touched(db, keys)
                for sql, params in import_batches(chunk, now):
                    await db.executemany(sql, params)
                after = await self._touched(db, keys)
                counts.rows += len(chunk)
                counts.contacts_new += after[0] - before[0]
                counts.consent_events += after[1] - before[1]
                counts.suppressions += after[2] - before[2]
        return counts

    async def _touched(self, db: Connection, keys: list[str]) -> tuple[int, ...]:
        sql, params = self.dialect.key_list(keys)
        [row] = await db.fetch(TOUCHED_COUNTS.format(sql), params * 3)
        return tuple(int(n) for n in row)

    async def contact(self, address: str) -> ContactView | None:
        async with self.reading() as db:
            rows = {
                name: await db.fetch(sql, (address,)) for name, sql in CONTACT_VIEW_QUERIES.items()
            }
        return contact_view(address, rows, await self.suppressions(address))

    async def record_consent(self, events: Sequence[ConsentEvent]) -> None:
        async with self.transaction() as db:
            await _record_events(db, events)

    async def suppress(self, entries: Sequence[SuppressionEntry]) -> int:
        added = 0
        async with self.transaction() as db:
            for start in range(0, len(entries), IMPORT_CHUNK):
                chunk = entries[start : start + IMPORT_CHUNK]
                keys, params = self.dialect.key_list(list({e.address for e in chunk}))
                count = SUPPRESSIONS_OF_KEYS.format(keys)
                [(before,)] = await db.fetch(count, params)
                await db.executemany(INSERT_SUPPRESSION, [_suppression_row(e) for e in chunk])
                [(after,)] = await db.fetch(count, params)
                added += int(after) - int(before)
        return added

    async def opt_out(
        self, entries: Sequence[SuppressionEntry], events: Sequence[ConsentEvent]
    ) -> list[SuppressionEntry]:
        """The suppressions and, in the same transaction, the events of those that were new
        (an event belongs to the entry of its address with its topic as scope); returns the
        new entries."""
        async with self.transaction() as db:
            new = [e for e in entries if await db.execute(INSERT_SUPPRESSION, _suppression_row(e))]
            added = {(e.address, e.scope) for e in new}
            await _record_events(db, [e for e in events if (e.address, e.topic) in added])
        return new

    async def unsuppress(
        self, address: str, scope: str | None = None, reason: str | None = None
    ) -> int:
        async with self.transaction() as db:
            return await db.execute(*unsuppress_sql(address, scope, reason))

    async def suppressions(
        self,
        address: str | None = None,
        limit: int = 1000,
        after: tuple[str, str, str] | None = None,
    ) -> list[SuppressionEntry]:
        async with self.reading() as db:
            if address is not None:
                rows = await db.fetch(SUPPRESSIONS_OF, (address,))
            else:
                rows = await db.fetch(SUPPRESSIONS_PAGE, (*(after or ("", "", "")), limit))
        return [SuppressionEntry(*r) for r in rows]

    async def meta(self, name: str, default: str) -> str:
        async with self.transaction() as db:
            await db.execute(META_DEFAULT, (name, default))
            [(value,)] = await db.fetch(META_VALUE, (name,))
        return str(value)

    async def forget(self, address: str, hashed: str) -> dict[str, int]:
        touched: dict[str, int] = {}
        async with self.transaction() as db:
            senders = spellings([r[0] for r in await db.fetch(DISTINCT_SENDERS)], address)
            spooled = spellings([r[0] for r in await db.fetch(DISTINCT_SPOOLED)], address)
            sender_keys, sender_params = self.dialect.key_list(senders)
            details = await db.fetch(
                DECISION_DETAILS.format(sender_keys), [address, *sender_params]
            )
            await db.executemany(
                SET_DETAIL, [(scrub(detail, address, hashed), seq) for seq, detail in details]
            )
            touched["decision"] = await db.execute(FORGET_RECIPIENT, (hashed, address))
            touched["decision_sender"] = await db.execute(
                FORGET_SENDER.format(sender_keys), [hashed, *sender_params]
            )
            for table, sql in FORGET_KEYED:
                touched[table] = await db.execute(sql, (address,))
            spool_keys, spool_params = self.dialect.key_list(spooled)
            touched["spool_recipient"] = await db.execute(
                FORGET_SPOOLED.format(spool_keys), spool_params
            )
            touched["contact"] = await db.execute(FORGET_CONTACT, (address,))
            await db.execute(INSERT_SUPPRESSION, (hashed, "all", "erased", "forget", iso_now()))
            await db.execute(DELETE_EMPTY_MESSAGES)
        return touched

    async def purge(self, decisions_before: str, inactive_before: str, now: str) -> dict[str, int]:
        async with self.transaction() as db:
            decisions = await _purge_chains(db, decisions_before, now)
            expired = [tuple(r) for r in await db.fetch(INACTIVE_CONSENTS, (inactive_before,) * 4)]
            await db.executemany(
                INSERT_EVENT,
                [(address, topic, "expire", now, "purge", "") for address, topic in expired],
            )
            await db.executemany(DELETE_CONSENT, expired)
        return {"decisions": decisions, "consents_expired": len(expired)}


async def _purge_chains(db: Connection, before: str, now: str) -> int:
    """Delete each instance's rows up to its newest one older than `before` (a prefix of its
    chain), and leave that row's position and hash as the anchor the rest links to."""
    deleted = 0
    for instance, seq, n, head, _time in await db.fetch(PURGE_CUTS, (before,)):
        count = await db.execute(PURGE_PREFIX, (instance, seq))
        deleted += count
        if head:  # a row from before the chain: the chain's first row links to GENESIS
            await db.execute(INSERT_ANCHOR, (instance, n, head, now, "purge", count))
    return deleted


async def _record_events(db: Connection, events: Sequence[ConsentEvent]) -> None:
    """Append the events; each moves its consent's current state (consent_state_params)."""
    for event in events:
        await db.execute(
            ENSURE_CONTACT, (event.address, event.address, event.source or None, event.at)
        )
        await db.execute(
            INSERT_EVENT,
            (event.address, event.topic, event.kind, event.at, event.source, event.proof),
        )
        state = consent_state_params(event)
        if state is not None:
            await db.execute(*state)


def _suppression_row(e: SuppressionEntry) -> tuple[str, ...]:
    return (e.address, e.scope, e.reason, e.source, e.created_at or iso_now())
