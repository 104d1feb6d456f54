"""Reports that come back: DSNs, ARF complaints, non-standard bounces, auto-replies.

Pure: bytes in, a `Report` out (`parse`), no I/O and no store. docs/reports.md documents
the kinds, the outcomes and the rules; `verp` codes the VERP and reference values that let
a report be matched to the message and recipient it is about.
"""

from gateway.reports.classify import classify
from gateway.reports.model import (
    KINDS,
    OUTCOMES,
    RecipientOutcome,
    Report,
)
from gateway.reports.parse import MAX_BYTES, parse

__all__ = ["KINDS", "MAX_BYTES", "OUTCOMES", "RecipientOutcome", "Report", "classify", "parse"]
