"""Fixtures for the cross-package tests (helpers live in testutil.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from testutil import Processes


@pytest.fixture
def processes() -> Iterator[Processes]:
    procs = Processes()
    try:
        yield procs
    finally:
        procs.stop_all()
