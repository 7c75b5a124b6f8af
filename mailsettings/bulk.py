"""Looking up a stream of addresses: input order, a bounded window, one lookup per domain.

:func:`stream` and :func:`astream` are what :meth:`Registry.lookup_stream
<mailsettings.Registry.lookup_stream>` and :meth:`~mailsettings.Registry.alookup_stream`
run. Both drive the same core, which holds no I/O: it reads inputs only as room frees
up, answers at once what needs no waiting (a malformed address, a domain of the bundled
database), starts at most one lookup per domain among the inputs it holds, and hands
outcomes back in input order. At most ``window`` inputs are held, so memory does not
grow with the input, and the first outcome comes out as soon as it is known.

>>> import mailsettings
>>> def lookup(address):  # any function of a parsed address
...     return mailsettings.lookup(address.domain)
>>> [type(outcome).__name__ for outcome in stream(lookup, ["a@qq.com", "a@@b", "b@qq.com"])]
['LookupResult', 'InvalidAddressError', 'LookupResult']
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Generic, TypeAlias, TypeVar, cast

from .address import Address, parse_address
from .errors import MailSettingsError
from .models import LookupResult

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["DEFAULT_WINDOW", "Outcome", "astream", "stream"]

DEFAULT_WINDOW = 256
"""How many inputs a stream holds, and so how many lookups it runs at most at once."""

Outcome: TypeAlias = LookupResult | MailSettingsError
"""What a stream yields for each input: its result, or the error its lookup raised."""

Handle = TypeVar("Handle")
"""A running lookup, as a driver represents it (a future, an asyncio task)."""

_Entry: TypeAlias = tuple[Outcome | None, Handle | None, str | None]
"""An input held by the window: its outcome if already known, else the running lookup
that will give it and the domain that lookup is shared under."""


class _Window(Generic[Handle]):
    """The core both drivers share: which input comes next and what it waits for.

    A driver calls :meth:`next` with a function that starts a lookup and gets the
    next entry in input order (``None`` at the end); an entry without an outcome is
    waited for through its handle, which ``is_done`` tells apart from a running one.
    """

    def __init__(
        self,
        inputs: Iterable[object],
        window: int,
        answer_now: Callable[[Address], LookupResult | None] | None,
        is_done: Callable[[Handle], bool],
    ) -> None:
        self._inputs: Iterator[object] | None = iter(inputs)
        self._size = window
        self._answer_now = answer_now
        self._is_done = is_done
        self._entries: deque[_Entry[Handle]] = deque()
        self._shared: dict[str, list[Handle | int]] = {}  # domain -> [handle, entries using it]

    def next(self, start: Callable[[Address], Handle]) -> _Entry[Handle] | None:
        """The next entry in input order, reading inputs while the first one is pending."""
        entries = self._entries
        while True:
            if entries:
                outcome, handle, _ = entries[0]
                if outcome is not None or self._is_done(handle):  # type: ignore[arg-type]
                    return self._pop()
            if self._inputs is None or len(entries) >= self._size:
                return self._pop() if entries else None
            self._read(start)

    def _read(self, start: Callable[[Address], Handle]) -> None:
        assert self._inputs is not None
        try:
            text = next(self._inputs)
        except StopIteration:
            self._inputs = None
            return
        try:
            address = parse_address(text)  # type: ignore[arg-type]  # the parser says what is wrong
            known = self._answer_now(address) if self._answer_now else None
        except MailSettingsError as error:
            self._entries.append((error, None, None))
            return
        if known is not None:
            self._entries.append((known, None, None))
            return
        key = address.domain_ascii
        shared = self._shared.get(key)
        if shared is None:
            shared = self._shared[key] = [start(address), 0]
        shared[1] += 1  # type: ignore[operator]
        self._entries.append((None, shared[0], key))  # type: ignore[arg-type]

    def _pop(self) -> _Entry[Handle]:
        entry = self._entries.popleft()
        key = entry[2]
        if key is not None:
            shared = self._shared[key]
            shared[1] -= 1  # type: ignore[operator]
            if not shared[1]:
                del self._shared[key]
        return entry

    def handles(self) -> Iterator[Handle]:
        """The lookups still held (to cancel them when the stream is abandoned)."""
        return (handle for _, handle, _ in self._entries if handle is not None)


def _check(inputs: Iterable[object], window: int) -> None:
    if isinstance(inputs, str | bytes | bytearray | memoryview):
        raise TypeError("addresses must be an iterable of addresses, not one str")
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive integer, not {window!r}")


def stream(
    lookup: Callable[[Address], LookupResult],
    inputs: Iterable[object],
    /,
    *,
    window: int = DEFAULT_WINDOW,
    answer_now: Callable[[Address], LookupResult | None] | None = None,
) -> Iterator[Outcome]:
    """Each input's outcome, in input order, with at most ``window`` lookups running.

    ``lookup`` is called in worker threads with the parsed address of one domain's
    first input among those held; the inputs at that domain share its outcome.
    ``answer_now``, if given, is asked first, in the caller's thread, and answers
    without a worker when it returns a result (or raises). Any
    :class:`~mailsettings.MailSettingsError` becomes the input's outcome; any other
    exception is raised by the iterator. The workers are daemon threads: one that
    is still running when the iterator is dropped ends with its lookup.
    """
    _check(inputs, window)
    return _stream(lookup, inputs, window, answer_now)


def _stream(
    lookup: Callable[[Address], LookupResult],
    inputs: Iterable[object],
    window: int,
    answer_now: Callable[[Address], LookupResult | None] | None,
) -> Iterator[Outcome]:
    from concurrent.futures import Future

    core: _Window[Future[Outcome]] = _Window(inputs, window, answer_now, Future.done)
    workers = _Workers(lookup, window)
    try:
        while True:
            entry = core.next(workers.submit)
            if entry is None:
                return
            outcome, handle, _ = entry
            yield cast(Outcome, outcome) if handle is None else handle.result()
    finally:
        for handle in core.handles():
            handle.cancel()
        workers.close()


def astream(
    lookup: Callable[[Address], Awaitable[LookupResult]],
    inputs: Iterable[object],
    /,
    *,
    window: int = DEFAULT_WINDOW,
    answer_now: Callable[[Address], LookupResult | None] | None = None,
) -> AsyncIterator[Outcome]:
    """Asynchronous twin of :func:`stream`: the lookups are asyncio tasks.

    Closing the iterator early (``aclose``, or leaving an ``async for``) cancels the
    lookups it still holds.
    """
    _check(inputs, window)
    return _astream(lookup, inputs, window, answer_now)


async def _astream(
    lookup: Callable[[Address], Awaitable[LookupResult]],
    inputs: Iterable[object],
    window: int,
    answer_now: Callable[[Address], LookupResult | None] | None,
) -> AsyncIterator[Outcome]:
    import asyncio

    core: _Window[asyncio.Task[Outcome]] = _Window(inputs, window, answer_now, asyncio.Task.done)

    def start(address: Address) -> asyncio.Task[Outcome]:
        return asyncio.ensure_future(_aoutcome(lookup, address))

    try:
        while True:
            entry = core.next(start)
            if entry is None:
                return
            outcome, handle, _ = entry
            yield cast(Outcome, outcome) if handle is None else await handle
    finally:
        for handle in core.handles():
            handle.cancel()


async def _aoutcome(
    lookup: Callable[[Address], Awaitable[LookupResult]], address: Address
) -> Outcome:
    try:
        return await lookup(address)
    except MailSettingsError as error:
        return error


class _Workers:
    """Up to ``limit`` daemon threads running lookups; a thread starts only when none is idle.

    A lookup's :class:`~mailsettings.MailSettingsError` is its future's result, not
    its exception: it is an outcome like a result.
    """

    def __init__(self, function: Callable[[Address], LookupResult], limit: int) -> None:
        import queue

        self._function = function
        self._limit = limit
        self._jobs: queue.SimpleQueue[tuple[Future[Outcome], Address] | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads = 0

    def submit(self, address: Address) -> Future[Outcome]:
        from concurrent.futures import Future

        future: Future[Outcome] = Future()
        self._jobs.put((future, address))
        if not self._idle.acquire(blocking=False) and self._threads < self._limit:
            self._threads += 1
            threading.Thread(target=self._work, name="mailsettings-lookup", daemon=True).start()
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, address = job
            if future.set_running_or_notify_cancel():
                self._settle(future, address)
            self._idle.release()

    def _settle(self, future: Future[Outcome], address: Address) -> None:
        try:
            outcome: Outcome = self._function(address)
        except MailSettingsError as error:
            outcome = error
        except BaseException as error:  # a bug: the consumer raises it
            future.set_exception(error)
            return
        future.set_result(outcome)

    def close(self) -> None:
        """Stop every thread once its current job is done; queued jobs are dropped."""
        for _ in range(self._threads):
            self._jobs.put(None)
