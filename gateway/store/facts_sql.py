"""Facts for the policy engine: one statement over the four consent tables, and the
RecipientFacts built from its rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.policy.facts import Consent, RecipientFacts, Relationship, Suppression

FACTS_UNION = " UNION ALL ".join(
    # One round trip for all four tables: rows tagged with their table, padded to 6 columns.
    # {0} lists the addresses, {1} them and the keys found only in the suppression list
    # (erased addresses' hashes): each search left out saves index pages on every look-up.
    f"SELECT '{name}', {columns} FROM {name} WHERE address IN ({{{keys}}})"
    for name, columns, keys in (
        ("contact", "address, country, source, created_at, last_engaged_at, NULL", 0),
        ("consent", "address, topic, granted_at, double_opt_in_at, withdrawn_at, proof", 0),
        ("relationship", "address, kind, last_at, categories, NULL, NULL", 0),
        ("suppression", "address, scope, reason, NULL, NULL, NULL", 1),
    )
)
_FACT_WIDTH = {"contact": 5, "consent": 6, "relationship": 4, "suppression": 3}


def facts_keys(
    addresses: Sequence[str], suppressed_only: Sequence[str]
) -> tuple[list[str], list[str]]:
    """FACTS_UNION's two key lists, without repeats: {0} the addresses, {1} them and the
    keys asked of the suppression list alone."""
    unique = list(dict.fromkeys(addresses))
    return unique, list(dict.fromkeys([*unique, *suppressed_only]))


def split_facts_union(rows: Sequence[Sequence[Any]]) -> dict[str, list[Sequence[Any]]]:
    tables: dict[str, list[Sequence[Any]]] = {name: [] for name in _FACT_WIDTH}
    for row in rows:
        tables[row[0]].append(row[1 : 1 + _FACT_WIDTH[row[0]]])
    return tables


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_facts(rows: dict[str, list[Sequence[Any]]]) -> dict[str, RecipientFacts]:
    consents: dict[str, list[Consent]] = defaultdict(list)
    for address, topic, granted, confirmed, withdrawn, proof in rows["consent"]:
        consents[address].append(
            Consent(
                topic,
                parse_time(granted),
                parse_time(confirmed),
                parse_time(withdrawn),
                bool(proof),
            )
        )
    relationships: dict[str, list[Relationship]] = defaultdict(list)
    for address, kind, last_at, categories in rows["relationship"]:
        last = parse_time(last_at)
        assert last is not None
        relationships[address].append(
            Relationship(kind, last, frozenset(c for c in categories.split(";") if c))
        )
    suppressions: dict[str, list[Suppression]] = defaultdict(list)
    for address, scope, reason in rows["suppression"]:
        suppressions[address].append(Suppression(scope, reason))
    contacts = {r[0]: r for r in rows["contact"]}
    facts = {}
    for address in set(contacts) | set(suppressions) | set(consents) | set(relationships):
        contact = contacts.get(address)
        facts[address] = RecipientFacts(
            address=address,
            country=contact[1].lower() if contact and contact[1] else None,
            known=contact is not None,
            source=contact[2] if contact else None,
            created_at=parse_time(contact[3]) if contact else None,
            last_engaged_at=parse_time(contact[4]) if contact else None,
            consents=tuple(consents[address]),
            relationships=tuple(relationships[address]),
            suppressions=tuple(suppressions[address]),
        )
    return facts
