"""The watch feed shared by both store modes: per-subscriber queues of :class:`Change`.

The hub holds subscribers weakly, so an abandoned iterator is collected instead of
accumulating changes forever.  A subscriber that falls more than ``maxsize`` changes
behind is cut off: its next read raises :class:`StoreError` ("overflowed; re-read the
tree").  That is also the resync signal after a large state install in cluster mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Iterable

from pyxis.errors import StoreError
from pyxis.store.base import Change


class Watcher(AsyncIterator[Change]):
    """One subscriber's queue."""

    def __init__(self, hub: WatchHub, maxsize: int) -> None:
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue(maxsize)
        self.overflowed = False
        self.closed = False
        self._hub = hub

    async def __anext__(self) -> Change:
        if self.queue.empty():
            if self.overflowed:
                raise StoreError("config store watch feed overflowed; re-read the tree")
            if self.closed:
                raise StopAsyncIteration
        item = await self.queue.get()
        if item is None:
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        self._hub.watchers.discard(self)
        self.closed = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)  # wakes a consumer blocked on an empty queue


class WatchHub:
    """The set of subscribers of one store."""

    def __init__(self) -> None:
        self.watchers: weakref.WeakSet[Watcher] = weakref.WeakSet()

    def watch(self, maxsize: int) -> Watcher:
        w = Watcher(self, maxsize)
        self.watchers.add(w)
        return w

    def publish(self, changes: Iterable[Change]) -> None:
        subs = list(self.watchers)
        if not subs:
            return
        for change in changes:
            for w in subs:
                if w.overflowed:
                    continue
                try:
                    w.queue.put_nowait(change)
                except asyncio.QueueFull:
                    w.overflowed = True
                    self.watchers.discard(w)

    async def close(self) -> None:
        for w in list(self.watchers):
            await w.aclose()
