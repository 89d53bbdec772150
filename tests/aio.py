"""Coroutines run from a test, whatever ran before it in the process."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_apart(coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
    """asyncio.run on a loop of its own, in a thread of its own: the browser tests'
    Playwright keeps an event loop running in the main thread for the whole session,
    and asyncio.run refuses to start beside a running loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=timeout)
