"""CPU cost of a shadow policy set per decision (docs/performance.md, issue 15).

The decide stage's work after the store look-up, for messages of 10 recipients: the live
verdicts and decision rows, then (with `policy.shadow_directory`) the candidate set deciding
each recorded decision again and a `shadow` row where it differs. The candidate is the test's
(tests/support/shadow.py): Czech soft opt-in 12 months instead of 24. Recipients are
Czech: a third consented, a third customers of 18 months (the candidate refuses them: a
shadow row each), a third customers of 3 months. Process CPU time (the machine is shared),
in alternating rounds so both settings see the same machine; the median round is reported.

    .venv/bin/python -m bench.shadow_cost [DECISIONS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from gateway.config import Config
from gateway.pipeline.classify import Classification
from gateway.pipeline.decide import Decider, decision_record, message_facts
from gateway.policy import Consent, RecipientFacts, Relationship, default_policy_dir, load_policies
from gateway.store.records import Who
from tests.support.shadow import candidate_set

ROUNDS = 7
PER_MESSAGE = 10


def recipients(count: int) -> list[dict[str, RecipientFacts]]:
    now = datetime.now(UTC)
    granted = now - timedelta(days=400)

    def facts(i: int) -> RecipientFacts:
        address = f"user{i}@shop.cz"
        if i % 3 == 0:
            return RecipientFacts(address, "cz", True, consents=(Consent("newsletter", granted),))
        months = 18 if i % 3 == 1 else 3
        bought = Relationship("purchase", now - timedelta(days=30 * months), frozenset({"shoes"}))
        return RecipientFacts(address, "cz", True, relationships=(bought,))

    return [
        {f"user{i}@shop.cz": facts(i) for i in range(m, m + PER_MESSAGE)}
        for m in range(0, count, PER_MESSAGE)
    ]


def one_round(decider: Decider, messages: list[dict[str, RecipientFacts]]) -> tuple[float, int]:
    classification = Classification("marketing", "header", topic="newsletter", category="shoes")
    facts = message_facts(classification, None, None)
    who = Who("s1", "192.0.2.1", "", "news@shop.example", "<m@shop.example>", "q1")
    shadows = 0
    start = time.process_time()
    for known in messages:
        verdicts = decider.decide(known, facts)
        rows = {a: decision_record(who, a, "rcpt", classification, v) for a, v in verdicts.items()}
        shadows += len(decider.shadow_rows(known, facts, rows))
    return time.process_time() - start, shadows


def main(count: int) -> None:
    config = Config()
    live = load_policies(default_policy_dir())
    with tempfile.TemporaryDirectory() as tmp:
        shadow = load_policies(candidate_set(Path(tmp) / "candidate"))
    store = cast(Any, None)  # the decide stage's CPU work only: no store look-up is timed
    plain = Decider(store, live, config, b"k" * 32)
    shadowed = Decider(store, live, config, b"k" * 32, shadow=shadow)
    messages = recipients(count)
    times: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(ROUNDS):
        for name, decider in (("without", plain), ("with", shadowed)):
            seconds, shadows = one_round(decider, messages)
            times[name].append(seconds)
    decisions = len(messages) * PER_MESSAGE
    print(f"{decisions} decisions per round, {ROUNDS} rounds, {shadows} shadow rows per round")
    medians = {name: statistics.median(t) / decisions * 1e6 for name, t in times.items()}
    for name, us in medians.items():
        print(f"  {name:8s} shadow set: {us:6.1f} µs CPU per decision")
    print(f"  cost of the shadow set: {medians['with'] - medians['without']:+.1f} µs per decision")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30_000)
