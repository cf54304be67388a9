"""Fixtures shared by the backend tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """One real httpx client, closed after the test."""
    with httpx.Client() as c:
        yield c
