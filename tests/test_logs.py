"""`logging.format = "json"`: one JSON object per line; text otherwise; both on stderr, so
that stdout holds only a command's output."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from gateway.config import Config, LoggingConfig
from gateway.logs import setup_logging


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def test_json_lines_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(Config(logging=LoggingConfig(level="INFO", format="json")))
    log = logging.getLogger("gatekeeper.test")
    log.info("queued %s", "ABC", extra={"ignored": True})
    log.debug("not shown at INFO")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("delivery failed")
    captured = capsys.readouterr()
    assert captured.out == ""
    first, second = (json.loads(line) for line in captured.err.splitlines())
    assert first["message"] == "queued ABC" and first["level"] == "INFO"
    assert first["logger"] == "gatekeeper.test" and first["time"].endswith("Z")
    assert "exc" not in first
    assert second["level"] == "ERROR" and "RuntimeError: boom" in second["exc"]


def test_text_by_default_and_set_up_twice_prints_once(capsys: pytest.CaptureFixture[str]) -> None:
    config = Config()
    setup_logging(config)
    setup_logging(config)
    logging.getLogger("gatekeeper").warning("careful")
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.endswith("WARNING gatekeeper: careful")
