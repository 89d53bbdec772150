"""Coroutines and servers run from a test, whatever ran before it in the process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_apart(coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
    """asyncio.run on a loop of its own, in a thread of its own: the browser tests'
    Playwright keeps an event loop running in the main thread for the whole session,
    and asyncio.run refuses to start beside a running loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=timeout)


@contextlib.contextmanager
def environment(values: dict[str, str | None]) -> Iterator[None]:
    """os.environ with `values` set (None: unset), as it was again on leaving."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def serving(app: Any, port: int) -> Iterator[None]:
    """A Sanic app served on 127.0.0.1:`port` from a loop in a thread of its own, for
    the in-process channel tests; stopped on leaving."""
    loop = asyncio.new_event_loop()
    holder: dict[str, Any] = {}

    async def run() -> None:
        holder["server"] = await app.create_server(
            host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
        )
        await holder["server"].startup()
        await holder["server"].start_serving()

    async def stop() -> None:
        await holder["server"].close()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(run(), loop).result(30)
        yield
    finally:
        if "server" in holder:
            asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
