"""Fleet tests: gateway processes sharing one fresh PostgreSQL database per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.store.engines import fresh_database


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from fresh_database()
