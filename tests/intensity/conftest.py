"""Fixtures for the live intensity sources: the local fake provider server and fast options."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from carbonlens.intensity._http import HttpOptions
from carbonlens.testing.intensity_server import IntensityServer


@pytest.fixture
def server() -> Iterator[IntensityServer]:
    """The four fake providers on 127.0.0.1, stopped after the test."""
    with IntensityServer() as running:
        yield running


@pytest.fixture
def sleeps() -> list[float]:
    """Every wait (seconds) the HTTP client asked for; nothing really sleeps."""
    return []


@pytest.fixture(scope="session")
def shared_client() -> Iterator[httpx.Client]:
    """One httpx client for the session (building one costs ~30 ms of TLS setup)."""
    with httpx.Client() as client:
        yield client


@pytest.fixture
def http(sleeps: list[float], shared_client: httpx.Client) -> HttpOptions:
    """Short timeouts, two retries, no jitter, recorded sleeps, no disk cache."""
    return HttpOptions(
        client=shared_client,
        connect_timeout_s=0.5,
        read_timeout_s=0.5,
        max_retries=2,
        backoff_base_s=0.01,
        backoff_cap_s=30.0,
        deadline_s=3.0,
        sleep=sleeps.append,
        jitter=lambda: 0.0,
    )
