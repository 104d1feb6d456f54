"""Logging set-up: `logging.format = "json"` for log shippers (one object per line on
stdout), plain text for people otherwise."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from gateway.config import Config
from gateway.contacts import normalise_time

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": normalise_time(datetime.fromtimestamp(record.created, UTC).isoformat()),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(config: Config) -> None:
    """Replaces any handlers already set, so calling it twice never doubles the lines.
    Text goes to stderr as before, keeping command output on stdout clean."""
    if config.logging.format == "json":
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=config.logging.level, handlers=[handler], force=True)
    # aiosmtpd logs every connection at INFO ("connection lost", ...): a line per message
    # or more on a busy relay. Its warnings still come through; DEBUG shows everything.
    if logging.getLogger().level > logging.DEBUG:
        logging.getLogger("mail.log").setLevel(logging.WARNING)
