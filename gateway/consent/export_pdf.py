"""The data export (gateway/consent/export.py) as a PDF a person can read: who holds the data,
what, since when and on what evidence, in plain language, with tables for consents and
decisions.

ReportLab draws it: a pure-Python wheel (BSD licence) with no system libraries, so
`pip install 'smtp-gatekeeper[pdf]'` is all a host needs; WeasyPrint would need Pango and
its fonts on every host. It is the optional extra `pdf`: without it the JSON form works and
the PDF form says what to install (export.PDF_MISSING). The font is DejaVu Sans when the
host has it (most scripts) else Bitstream Vera, which ReportLab ships (Latin).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
EVENT_WORDS = {
    "grant": "you gave consent",
    "confirm": "you confirmed it (double opt-in)",
    "withdraw": "you withdrew consent",
    "unsubscribe": "you unsubscribed",
    "resubscribe": "you subscribed again",
    "object": "you objected",
    "expire": "it expired (no activity)",
}


def font() -> str:
    name = "DejaVuSans" if DEJAVU.exists() else "Vera"
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, str(DEJAVU) if DEJAVU.exists() else "Vera.ttf"))
    return name


def styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    face = font()
    return {
        name: ParagraphStyle(name, parent=base[parent], fontName=face, **extra)
        for name, parent, extra in (
            ("title", "Title", {}),
            ("h2", "Heading2", {}),
            ("body", "BodyText", {}),
            ("cell", "BodyText", {"fontSize": 8, "leading": 10}),
        )
    }


def when(value: Any) -> str:
    """An ISO 8601 UTC time as a person reads it: `2026-01-05 00:10 UTC`."""
    text = str(value or "")
    if ISO_UTC.fullmatch(text):
        return f"{text[:10]} {text[11:16]} UTC"
    return text


def evidence(value: Any) -> str:
    """Evidence as a reader sees it: `ip: 192.0.2.1; form: …` rather than JSON."""
    if value in (None, "", {}):
        return "none recorded"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {v}" for k, v in value.items() if v not in (None, ""))
    return str(value)


def grid(rows: Sequence[Sequence[Any]], st: dict[str, ParagraphStyle], widths: list[float]):
    """A table whose cells wrap; the header row repeats on every page."""
    if len(rows) == 1:
        return Paragraph("None.", st["body"])
    cells = [[Paragraph(escape(when(v) or "–"), st["cell"]) for v in row] for row in rows]
    table = LongTable(cells, colWidths=[w * mm for w in widths], repeatRows=1)
    table.setStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    return table


def holder_text(doc: Mapping[str, Any]) -> str:
    who = doc["controller"]
    name = who.get("name") or "the operator of this mail gateway"
    extra = ", ".join(v for v in (who.get("registration"), who.get("postal_address")) if v)
    return name + (f" ({extra})" if extra else "")


def opening(doc: Mapping[str, Any], st: dict[str, ParagraphStyle]) -> list[Any]:
    contact = doc["contact"] or {}
    lines = [
        f"This document lists everything that <b>{escape(holder_text(doc))}</b> holds in its "
        f"mail gateway about the address <b>{escape(doc['subject'])}</b>, as of "
        f"{escape(when(doc['generated_at']))}. You receive it under Article 15 of the GDPR "
        "(your right of access).",
    ]
    if contact:
        lines.append(
            "We have held this address since "
            f"{escape(when(contact.get('created_at')) or 'an unknown date')}; it came from: "
            f"{escape(contact.get('source') or 'not recorded')}; country: "
            f"{escape(contact.get('country') or 'not recorded')}; last activity: "
            f"{escape(when(contact.get('last_engaged_at')) or 'none recorded')}."
        )
    else:
        lines.append("We hold no contact record for this address, only the records below.")
    return [
        Paragraph(f"Your data: {escape(doc['subject'])}", st["title"]),
        *(Paragraph(line, st["body"]) for line in lines),
    ]


def consent_parts(doc: Mapping[str, Any], st: dict[str, ParagraphStyle]) -> list[Any]:
    consents = [["Topic", "Given on", "Confirmed on", "Withdrawn on", "How", "Evidence"]]
    consents += [
        [
            c.get("topic"),
            c.get("granted_at"),
            c.get("double_opt_in_at"),
            c.get("withdrawn_at"),
            c.get("source"),
            evidence(c.get("proof")),
        ]
        for c in doc["consents"]
    ]
    history = [["When", "What happened", "Topic", "How", "Evidence"]]
    history += [
        [
            e["at"],
            EVENT_WORDS.get(e["event"], e["event"]),
            e["topic"],
            e["source"],
            evidence(e["proof"]),
        ]
        for e in doc["consent_history"]
    ]
    return [
        Paragraph("Your consents and the evidence for them", st["h2"]),
        grid(consents, st, [28, 38, 38, 38, 28, 95]),
        Paragraph("Every change to your consents, oldest first", st["h2"]),
        grid(history, st, [40, 50, 30, 30, 115]),
    ]


def other_parts(doc: Mapping[str, Any], st: dict[str, ParagraphStyle]) -> list[Any]:
    customer = [["Kind", "Last purchase or contract", "Categories"]]
    customer += [
        [r.get("kind"), r.get("last_at"), r.get("categories")] for r in doc["relationships"]
    ]
    blocks = [["Mail blocked", "Why", "Recorded by", "Since"]]
    blocks += [[s["scope"], s["reason"], s["source"], s["created_at"]] for s in doc["suppressions"]]
    return [
        Paragraph("You as a customer", st["h2"]),
        grid(customer, st, [40, 60, 165]),
        Paragraph("Mail we will not send you (suppressions)", st["h2"]),
        grid(blocks, st, [50, 60, 50, 105]),
    ]


def decision_parts(doc: Mapping[str, Any], st: dict[str, ParagraphStyle]) -> list[Any]:
    part = doc["decisions"]
    note = f"{part['shown']} decision(s), newest first."
    if not part["complete"]:
        note += f" Only the newest {part['limit']} are listed here; ask us for the earlier ones."
    rows = [["When", "From", "Purpose", "Outcome", "Because", "Rule (legal basis)"]]
    rows += [
        [
            d["time"],
            d["sender"],
            " / ".join(v for v in (d["purpose"], d["topic"]) if v),
            d["action"],
            d["basis"] or d["reason"],
            f"{d['rule']} ({d['cite']})" if d["cite"] else d["rule"],
        ]
        for d in part["rows"]
    ]
    return [
        Paragraph("Each time mail to you was allowed or refused", st["h2"]),
        Paragraph(escape(note), st["body"]),
        grid(rows, st, [38, 45, 35, 18, 45, 84]),
    ]


def chain_parts(doc: Mapping[str, Any], st: dict[str, ParagraphStyle]) -> list[Any]:
    chain = doc["chain"]
    heads = "; ".join(
        f"{name or 'this gateway'}: {i['head']}" for name, i in chain["instances"].items()
    )
    text = (
        "Each decision above is a link in a hash chain: altering, removing or inserting a "
        "record afterwards breaks the chain, and the operator's check names the record. "
        f"The chain's head when this document was made: {heads or 'no chained records'}. "
        "The JSON form of this export lists each record's hash."
    )
    return [
        Paragraph("Can these records be trusted?", st["h2"]),
        Paragraph(escape(text), st["body"]),
    ]


def render_pdf(doc: Mapping[str, Any]) -> bytes:
    st = styles()
    flow: Iterable[Any] = [
        *opening(doc, st),
        *consent_parts(doc, st),
        *other_parts(doc, st),
        *decision_parts(doc, st),
        *chain_parts(doc, st),
        Spacer(1, 4 * mm),
    ]
    out = io.BytesIO()
    pdf = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        title=f"Data held about {doc['subject']}",
        author=holder_text(doc),
    )
    pdf.build(list(flow))
    return out.getvalue()
