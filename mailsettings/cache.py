"""A small thread-safe cache whose entries expire after their own time to live."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["TTLCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """A bounded, thread-safe map whose entries expire after their own time to live.

    The oldest entries go first when ``maxsize`` is reached. Reads take no lock (a
    dictionary read is atomic); writes take a plain lock held only for dictionary
    operations. Nothing is tied to an event loop, so threads and event loops may share
    it. ``clock`` returns seconds (monotonic).

    >>> cache: TTLCache[str, int] = TTLCache(maxsize=2)
    >>> cache.put("a", 1, ttl=60); cache.put("b", 2, ttl=60); cache.put("c", 3, ttl=60)
    >>> cache.get("a"), cache.get("c"), len(cache)
    (None, 3, 2)
    """

    def __init__(self, maxsize: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The live value for ``key``, or ``None``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            with self._lock:
                if self._entries.get(key) is entry:
                    del self._entries[key]
            return None
        return entry[1]

    def put(self, key: K, value: V, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds; a ``ttl`` of zero or less stores nothing."""
        if ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
