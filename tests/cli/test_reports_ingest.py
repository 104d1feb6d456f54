"""`gatekeeper reports ingest`: a single message, an mbox and a Maildir, applied as if they
had come to the report mailbox (docs/design.md §8)."""

from __future__ import annotations

import asyncio
import mailbox
from pathlib import Path

from gateway.store import open_store
from gateway.store.records import DecisionQuery
from tests.support.cli import run_cli
from tests.support.config import gateway_sections, write_config

CORPUS = Path(__file__).parent.parent / "data" / "reports" / "written"


def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, gateway_sections(tmp_path, "outbox:./outbox"))


async def suppressions(tmp_path: Path) -> dict[str, str]:
    store = open_store(f"sqlite:///{tmp_path / 'gatekeeper.db'}")
    await store.open()
    try:
        rows = await store.decisions(DecisionQuery(phase="report"))
        assert all(d.detail for _, d in rows)  # the evidence rides with every row
        return {s.address: s.reason for s in await store.suppressions()}
    finally:
        await store.close()


def test_ingest_a_message_an_mbox_and_a_maildir(tmp_path: Path) -> None:
    single = CORPUS / "postfix_user_unknown.eml"
    box = mailbox.mbox(tmp_path / "reports.mbox")
    for name in ("arf_abuse_rfc5965.eml", "gmail_5726.eml"):
        box.add((CORPUS / name).read_bytes())
    box.close()
    maildir = mailbox.Maildir(tmp_path / "Maildir")
    maildir.add((CORPUS / "o365_mailbox_full.eml").read_bytes())
    maildir.add((CORPUS / "autoreply_gmail_vacation.eml").read_bytes())
    result = run_cli(
        "reports", "ingest", str(single), str(tmp_path / "reports.mbox"),
        str(tmp_path / "Maildir"), "--config", str(config(tmp_path)),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "alice@dest.example hard: suppressed hard-bounce" in out
    assert "reports.mbox#1: arf: vera@mailbox.example complaint" in out
    assert "niaj@gmail.com sender: sender-side" in out
    assert "xena@contoso.example soft: soft bounce 1 of 5 in 7 days" in out
    assert ": auto-reply: " in out
    assert out.rstrip().endswith("5 report(s) ingested")
    found = asyncio.run(suppressions(tmp_path))
    assert found == {"alice@dest.example": "hard-bounce", "vera@mailbox.example": "complaint"}
    shown = run_cli("contacts", "show", "alice@dest.example", "--config", str(config(tmp_path)))
    assert "suppressed scope=all reason=hard-bounce source=report" in shown.stdout
    assert "hard-bounce 5.1.1 deny via ingest" in shown.stdout


def test_an_unreadable_file_fails_but_the_rest_is_applied(tmp_path: Path) -> None:
    result = run_cli(
        "reports", "ingest", str(tmp_path / "missing.eml"),
        str(CORPUS / "postfix_user_unknown.eml"), "--config", str(config(tmp_path)),
    )  # fmt: skip
    assert result.returncode == 1
    assert "cannot read" in result.stderr and "missing.eml" in result.stderr
    assert "1 report(s) ingested" in result.stdout
