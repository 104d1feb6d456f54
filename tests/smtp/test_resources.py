"""Start-up resources of the SMTP listener (gateway/smtp/resources.py) and the limit keys'
validation (gateway/config_limits.py)."""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import resource

import pytest

from gateway import app
from gateway.config import ConfigError
from gateway.smtp import resources
from tests.support.config import make_config


async def test_accept_failures_are_one_line_per_period(caplog):
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    resources.sample_accept_errors(loop)
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.smtp.resources"):
            for _ in range(1000):
                loop.call_exception_handler(
                    {
                        "message": resources.ACCEPT_FAILED,
                        "exception": OSError(errno.EMFILE, "Too many open files"),
                    }
                )
        lines = [r for r in caplog.records if r.name == "gateway.smtp.resources"]
        assert len(lines) == 1
        assert "Too many open files" in lines[0].getMessage()
    finally:
        loop.set_exception_handler(previous)


async def test_a_serving_gateway_keeps_start_up_out_of_full_collections(upstream, tmp_path):
    """Start-up's objects are frozen (full collections do not scan them) and given back to
    the collector when the gateway stops."""
    gc.unfreeze()
    gw = await app.start(make_config(tmp_path, upstream.url))
    try:
        frozen = gc.get_freeze_count()
    finally:
        await app.stop(gw)
    assert frozen > 0
    assert gc.get_freeze_count() == 0


def test_the_open_file_limit_is_raised_to_the_hard_limit():
    soft = resources.raise_fd_limit(10)
    now, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == now
    if hard != resource.RLIM_INFINITY:
        assert now == hard


@pytest.mark.parametrize(
    ("smtp", "named"),
    [
        ({"max_sessions": 0}, "smtp.max_sessions"),
        ({"timeout": 0}, "smtp.timeout"),
        ({"max_inflight_bytes": -1}, "smtp.max_inflight_bytes"),
        (
            {"users": [{"name": "app", "password_hash": "x", "rate_per_minute": -1}]},
            "rate_per_minute",
        ),
    ],
)
def test_a_limit_that_is_not_positive_stops_start_up(tmp_path, smtp, named):
    with pytest.raises(ConfigError, match=named):
        make_config(tmp_path, "outbox:./outbox", smtp=smtp)
