"""Logging set-up: `logging.format = "json"` for log shippers (one object per line), plain
text for people otherwise. Either way on stderr: stdout carries a command's output
(`log --format json`, `contacts proof`), which a log line would corrupt."""

from __future__ import annotations

import json
import logging
import sys

from gateway.config import Config
from gateway.timefmt import from_epoch

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": from_epoch(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(config: Config) -> None:
    """Replaces any handlers already set, so calling it twice never doubles the lines."""
    handler = logging.StreamHandler(sys.stderr)
    if config.logging.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=config.logging.level, handlers=[handler], force=True)
    # aiosmtpd logs every connection at INFO ("connection lost", ...): a line per message
    # or more on a busy relay. Its warnings still come through; DEBUG shows everything.
    if logging.getLogger().level > logging.DEBUG:
        logging.getLogger("mail.log").setLevel(logging.WARNING)
