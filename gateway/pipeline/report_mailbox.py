"""The report mailbox (docs/design.md §8): `bounces.address`, and with `bounces.domain` every
address at that domain (the VERP envelope senders `b+TOKEN@DOMAIN` of relayed mail come back
there). Reports are taken from anyone, the null sender included, parsed
(gateway.reports.parse) and applied (pipeline/report_outcomes.py); nothing is relayed."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from gateway.addresses import AddressError, canonical
from gateway.config_reports import BouncesConfig
from gateway.pipeline import replies
from gateway.pipeline.brake import Brake
from gateway.pipeline.receive import Incoming
from gateway.pipeline.report_outcomes import Applied, ReportIntake
from gateway.pipeline.writer import Writer
from gateway.reports import parse
from gateway.reports.model import COMPLAINT
from gateway.reports.verp import VERP_PREFIX

log = logging.getLogger(__name__)

SOURCE = "mailbox"


def report_addresses(config: BouncesConfig) -> tuple[str, str]:
    """(canonical bounces.address or "", lower-case bounces.domain or "")."""
    address = ""
    if config.address:
        try:
            address = canonical(config.address)
        except AddressError:
            address = config.address.lower()
    return address, (config.domain or "").lower().strip(".")


class ReportMailbox:
    rcpt_reply = replies.REPORT_ADDRESS_OK
    data_reply = replies.REPORT_RECEIVED

    def __init__(
        self,
        intake: ReportIntake,
        config: BouncesConfig,
        writer: Writer,
        brake: Brake | None = None,
    ) -> None:
        self._intake = intake
        self._address, self._domain = report_addresses(config)
        self._writer = writer
        self._brake = brake

    @property
    def enabled(self) -> bool:
        return bool(self._address or self._domain)

    def owns(self, address: str) -> bool:
        try:
            key = canonical(address)
        except AddressError:
            return False
        return key == self._address or (
            bool(self._domain) and key.rpartition("@")[2] == self._domain
        )

    async def receive(self, message: Incoming, recipients: Sequence[str]) -> None:
        """Parse and apply; the 250 waits until the report's rows and suppressions are
        committed, so a report answered 250 is never lost."""
        report = parse(message.data)
        verp = next((r for r in recipients if r.lower().startswith(VERP_PREFIX)), "")
        applied = await self._intake.apply(
            report, source=SOURCE, envelope_to=verp, client=message.client
        )
        await self._writer.written()
        if self._brake is not None and any(a.outcome == COMPLAINT for a in applied):
            await self._brake.evaluate()
        log.info(
            "report from <%s> via %s: %s; %s",
            message.sender,
            message.client,
            report.kind,
            "; ".join(describe(a) for a in applied) or "nothing to apply",
        )


def describe(applied: Applied) -> str:
    """One recipient line of a report in words, for the log and `reports ingest`."""
    who = applied.address or "(recipient not found)"
    return f"{who} {applied.outcome}: {applied.done}"
