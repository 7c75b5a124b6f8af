"""Hostile and scripted servers on loopback, and probes of what a lookup leaves running.

* :class:`WireResponder` is a UDP DNS server on 127.0.0.1 that answers from records
  given as text, building each answer once and then only patching the message id, so
  that even an answer of 1,500 records costs the server nothing measurable: the time a
  lookup takes is the client's. It counts queries, can stay silent, and can hold every
  answer back until queries for a number of different names have arrived (which only
  concurrent lookups can do).
* :func:`thread_count`, :func:`socket_count` and :class:`Sampler` read what the process
  runs: threads (Python's and native ones) and open sockets.
* :func:`autoconfig_with_domains` writes an autoconfig document with many ``<domain>``
  elements.

Nothing here sends a packet anywhere but 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
from dns_servers import make_resolver

LOOPBACK = "127.0.0.1"
MAX_UDP = 65_507
"""The largest UDP payload over IPv4, and so the largest answer this server sends."""

Records = dict[tuple[str, str], tuple[int, list[str]]]
"""(owner name with final dot, type) -> (TTL, rdata texts), as in ``dns_servers.Records``."""


class WireResponder:
    """A UDP DNS server on 127.0.0.1 answering from ``records``; see the module's description.

    ``mode`` is ``"answer"`` (NXDOMAIN for unknown names, NODATA for a known name and
    another type) or ``"silent"``. With ``hold_until=n``, no answer leaves before queries
    for ``n`` different names have arrived; then the held ones and all later ones are
    answered.
    """

    def __init__(
        self, records: Records | None = None, *, mode: str = "answer", hold_until: int = 0
    ) -> None:
        self.mode = mode
        self.records: Records = {
            (name.lower(), kind.upper()): value for (name, kind), value in (records or {}).items()
        }
        self.hold_until = hold_until
        self.queries: Counter[tuple[str, str]] = Counter()
        self._answers: dict[tuple[str, str, bytes], bytes] = {}
        self._held: list[tuple[bytes, tuple[str, int]]] = []
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        self.socket.bind((LOOPBACK, 0))
        self.socket.settimeout(0.05)
        self.port = int(self.socket.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def total(self) -> int:
        """Queries received so far."""
        return sum(self.queries.values())

    def resolver(self, timeout: float = 2.0) -> dns.resolver.Resolver:
        """A resolver asking only this server."""
        resolver = make_resolver(self.port, timeout=timeout)
        assert isinstance(resolver, dns.resolver.Resolver)
        return resolver

    def _answer(self, query: dns.message.Message, wire: bytes, key: tuple[str, str]) -> bytes:
        """The answer's wire form, built once per question and query flags."""
        shape = (*key, wire[2:4])
        known = self._answers.get(shape)
        if known is None:
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            question = query.question[0]
            if key in self.records:
                ttl, texts = self.records[key]
                response.answer.append(
                    dns.rrset.from_text_list(question.name, ttl, "IN", key[1], texts)
                )
            elif not any(name == key[0] for name, _ in self.records):
                response.set_rcode(dns.rcode.NXDOMAIN)
            known = self._answers[shape] = response.to_wire(max_size=MAX_UDP)
        return wire[:2] + known[2:]  # the query's id

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self.socket.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(wire)
                question = query.question[0]
            except (dns.exception.DNSException, IndexError):
                continue
            key = (question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype))
            self.queries[key] += 1
            if self.mode == "silent":
                continue
            answer = self._answer(query, wire, key)
            if len({name for name, _ in self.queries}) < self.hold_until:
                self._held.append((answer, peer))
                continue
            for held, held_peer in [*self._held, (answer, peer)]:
                self.socket.sendto(held, held_peer)
            self._held.clear()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._stop.set()
        self._thread.join(2)
        self.socket.close()


def srv_records(domain: str, count: int, services: tuple[str, ...]) -> Records:
    """``count`` distinct SRV records for each service, all targets inside ``domain``."""
    return {
        (f"{service}.{domain}.", "SRV"): (
            60,
            [
                f"{index % 7} {index % 1000} {1024 + index} h{index}.{domain}."
                for index in range(count)
            ],
        )
        for service in services
    }


# --- what the process runs -----------------------------------------------------------


def thread_count() -> int:
    """Threads of this process, native ones included (Linux ``/proc``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise RuntimeError("/proc/self/status has no Threads line")


def socket_count() -> int:
    """Open sockets of this process (Linux ``/proc``)."""
    count = 0
    for entry in os.scandir("/proc/self/fd"):
        try:
            count += os.readlink(entry.path).startswith("socket:")
        except OSError:
            continue  # closed meanwhile
    return count


class Sampler:
    """Samples the process's thread counts from a thread of its own, keeping the peaks.

    The sampler's own thread is counted in the baseline taken when it starts, so the
    peaks compare directly with it.
    """

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_python = self.peak_native = 0
        self._thread.start()
        self.baseline_python = threading.active_count()  # the sampler's thread included
        self.baseline_native = thread_count()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_python = max(self.peak_python, threading.active_count())
            self.peak_native = max(self.peak_native, thread_count())

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join(2)

    def __enter__(self) -> Sampler:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def back_to(baseline: tuple[int, int, int], grace: float) -> tuple[int, int, int]:
    """``(Python threads, native threads, sockets)`` once they are back at ``baseline``.

    Polls for at most ``grace`` seconds (a thread that finished its work is reaped
    asynchronously) and returns the last reading either way.
    """
    deadline = time.monotonic() + grace
    while True:
        now = process_state()
        if all(n <= b for n, b in zip(now, baseline, strict=True)) or time.monotonic() > deadline:
            return now
        time.sleep(0.01)


def process_state() -> tuple[int, int, int]:
    """``(Python threads, native threads, sockets)`` now."""
    return threading.active_count(), thread_count(), socket_count()


# --- documents ------------------------------------------------------------------------


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if not number:
            return text


def autoconfig_with_domains(domain: str, count: int) -> bytes:
    """An autoconfig document for ``domain`` listing ``count`` other distinct domains.

    With 40,000 of them it is just under 1 MiB (the reader's size limit).
    """
    others = "".join(f"<domain>{_base36(index)}.ac.cn</domain>" for index in range(count))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1"><emailProvider id="{domain}"><domain>{domain}</domain>{others}
<displayName>Many domains</displayName>
<incomingServer type="imap"><hostname>imap.{domain}</hostname><port>993</port>
<socketType>SSL</socketType><authentication>password-cleartext</authentication>
<username>%EMAILADDRESS%</username></incomingServer>
<outgoingServer type="smtp"><hostname>smtp.{domain}</hostname><port>465</port>
<socketType>SSL</socketType><authentication>password-cleartext</authentication>
<username>%EMAILADDRESS%</username></outgoingServer>
</emailProvider></clientConfig>
""".encode()
