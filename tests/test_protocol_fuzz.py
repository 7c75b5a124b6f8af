"""Arbitrary server bytes in arbitrary chunks: the clients raise ProtocolError or nothing.

Two properties for every client:

* whatever the server sends, cut anywhere, the client returns events or raises
  :class:`ProtocolError` (then stays broken) — never another exception, and its
  buffer never grows past its line limit plus one chunk;
* a valid transcript gives the same events however it is cut.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mailsettings.protocol import (
    Challenge,
    Client,
    CommandStateError,
    Event,
    IMAPClient,
    Login,
    Plain,
    POP3Client,
    ProtocolError,
    SMTPClient,
    State,
    XOAuth2,
)

MAX_LINE = 200  # small limits, so that the limits themselves are exercised

FRAGMENTS = {
    "imap": [
        b"* OK ",
        b"* PREAUTH ",
        b"* BYE ",
        b"* CAPABILITY ",
        b"[CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR]",
        b"A1 OK ",
        b"A2 NO ",
        b"A3 BAD ",
        b"A4 OK [READ-ONLY] ",
        b"+ ",
        b"+ VXNlcm5hbWU6",
        b"* ID (",
        b'"name" ',
        b"NIL",
        b")",
        b"{3}\r\nabc",
        b"{99999999999}",
        b"* 3 EXISTS",
        b"[UIDVALIDITY 5]",
        b"STARTTLS ",
        b"LOGINDISABLED ",
        b"\r\n",
        b"\n",
        b"\r",
        b"\x00",
        b"\xff\xfe",
        b" ",
    ],
    "pop3": [
        b"+OK ",
        b"-ERR ",
        b"[AUTH] ",
        b"[SYS/TEMP] ",
        b"+ ",
        b"+ VXNlcm5hbWU6",
        b".",
        b"..",
        b"SASL PLAIN LOGIN",
        b"STLS",
        b"USER",
        b"2 320",
        b"\r\n",
        b"\n",
        b"\x00",
        b"\xff",
        b" ",
    ],
    "smtp": [
        b"220 ",
        b"220-",
        b"250-",
        b"250 ",
        b"334 ",
        b"334 VXNlcm5hbWU6",
        b"235 ",
        b"535 5.7.8 ",
        b"454 4.7.0 ",
        b"421 ",
        b"221 ",
        b"AUTH PLAIN LOGIN",
        b"AUTH=LOGIN",
        b"STARTTLS",
        b"\r\n",
        b"\n",
        b"\x00",
        b"\xff",
        b" ",
    ],
}

Command = Callable[[Any], bytes]
"""A command of one protocol's client (the clients share no command interface)."""


def _commands(protocol: str) -> list[Command]:
    """Every command the client has (bound later to the instance)."""
    common: list[Command] = [
        lambda c: c.authenticate(Plain("alice", "pw")),
        lambda c: c.authenticate(Login("alice", "pw")),
        lambda c: c.authenticate(XOAuth2("alice", "tok")),
        lambda c: c.starttls(),
        lambda c: c.noop(),
    ]
    if protocol == "imap":
        return [
            *common,
            lambda c: c.capability(),
            lambda c: c.login("alice", "pw"),
            lambda c: c.id({"name": "x"}),
            lambda c: c.select("INBOX"),
            lambda c: c.logout(),
        ]
    if protocol == "pop3":
        return [
            *common,
            lambda c: c.capa(),
            lambda c: c.user("alice"),
            lambda c: c.pass_("pw"),
            lambda c: c.stat(),
            lambda c: c.quit(),
        ]
    return [
        *common,
        lambda c: c.ehlo("client.test"),
        lambda c: c.helo("client.test"),
        lambda c: c.quit(),
    ]


def _client(protocol: str) -> Client:
    kinds: dict[str, type[IMAPClient] | type[POP3Client] | type[SMTPClient]] = {
        "imap": IMAPClient,
        "pop3": POP3Client,
        "smtp": SMTPClient,
    }
    return kinds[protocol](max_line_length=MAX_LINE, max_response_lines=20)


STARTS = {
    "imap": [b"* ", b"+ ", b"A1 ", b"A2 ", b"A3 ", b"A4 ", b"A5 ", b""],
    "pop3": [b"+OK ", b"-ERR ", b"+ ", b".", b""],
    "smtp": [b"220 ", b"250-", b"250 ", b"334 ", b"235 ", b"535 ", b"221 ", b"421 ", b""],
}
WORDS = {
    "imap": [b"OK", b"NO", b"BAD", b"BYE", b"PREAUTH", b"CAPABILITY", b"ID", b"3 EXISTS"],
    "pop3": [b"", b"USER", b"STLS", b"SASL", b"1 2"],
    "smtp": [b"", b"AUTH", b"STARTTLS", b"5.7.8"],
}


def _lines(protocol: str) -> st.SearchStrategy[bytes]:
    """Mostly plausible lines (the right starts, words and fragments), some garbage."""
    piece = st.one_of(st.sampled_from(FRAGMENTS[protocol]), st.binary(max_size=12))
    plausible = st.tuples(
        st.sampled_from(STARTS[protocol]),
        st.sampled_from(WORDS[protocol]),
        st.lists(piece, max_size=4).map(b" ".join),
        st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n", b""]),
    ).map(lambda parts: parts[0] + parts[1] + b" " + parts[2] + parts[3])
    return st.one_of(plausible, plausible, piece)


def _streams(protocol: str) -> st.SearchStrategy[bytes]:
    return st.lists(_lines(protocol), max_size=40).map(b"".join)


def _cut(data: st.DataObject, stream: bytes) -> list[bytes]:
    """``stream`` in non-empty chunks cut anywhere; sometimes the end (b"") follows."""
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=12))))
    bounds = [0, *(cut for cut in cuts if cut < len(stream)), len(stream)]
    chunks = [stream[a:b] for a, b in pairwise(bounds) if b > a]
    return [*chunks, b""] if data.draw(st.booleans()) else chunks


def _drive(client: Client, protocol: str, chunks: list[bytes], data: st.DataObject) -> list[Event]:
    """Feed the chunks; between them, do what a caller may do in the client's state."""
    commands = _commands(protocol)
    events: list[Event] = []
    for chunk in chunks:
        try:
            new = client.receive_data(chunk)
        except ProtocolError:
            assert client.state is State.BROKEN
            try:
                client.receive_data(b"more")
            except ProtocolError:
                return events
            raise AssertionError("a broken client accepted more data") from None
        assert all(isinstance(event, Event) for event in new)
        assert client._reader.pending <= MAX_LINE + len(chunk) + 1
        events.extend(new)
        if any(isinstance(event, Challenge) for event in new) and client.state is State.CHALLENGED:
            answer = (
                client.answer_challenge()
                if data.draw(st.booleans())
                else client.cancel_authentication()
            )
            assert answer.endswith(b"\r\n")
        elif client.state is State.TLS_HANDSHAKE:
            client.tls_established()
        elif client.state is State.READY:
            command = data.draw(st.sampled_from(commands))
            try:
                sent = command(client)
            except CommandStateError:
                continue  # not allowed in this state: a documented usage error
            assert sent.endswith(b"\r\n") and sent.count(b"\n") == 1
    return events


@given(protocol=st.sampled_from(list(FRAGMENTS)), data=st.data())
def test_arbitrary_bytes_only_raise_protocol_error(protocol: str, data: st.DataObject) -> None:
    stream = data.draw(_streams(protocol))
    client = _client(protocol)
    _drive(client, protocol, _cut(data, stream), data)


@given(
    protocol=st.sampled_from(list(FRAGMENTS)),
    stream=st.binary(max_size=2000),
    data=st.data(),
)
def test_random_binary_only_raises_protocol_error(
    protocol: str, stream: bytes, data: st.DataObject
) -> None:
    _drive(_client(protocol), protocol, _cut(data, stream), data)


@given(protocol=st.sampled_from(list(FRAGMENTS)), data=st.data())
def test_valid_greeting_then_arbitrary_answers(protocol: str, data: st.DataObject) -> None:
    greeting = {
        "imap": b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=LOGIN ID] ready\r\n",
        "pop3": b"+OK ready\r\n",
        "smtp": b"220 ready\r\n",
    }[protocol]
    stream = greeting + data.draw(_streams(protocol))
    _drive(_client(protocol), protocol, _cut(data, stream), data)


TRANSCRIPTS: dict[str, tuple[list[Command], bytes]] = {
    "imap": (
        [
            lambda c: c.capability(),
            lambda c: c.authenticate(Login("a", "secret-pw")),
            lambda c: c.id({"name": "x"}),
            lambda c: c.select(),
            lambda c: c.logout(),
        ],
        b"* OK [CAPABILITY IMAP4rev1] hi\r\n* CAPABILITY IMAP4rev1 AUTH=LOGIN\r\nA1 OK\r\n"
        b"+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\nA2 OK [CAPABILITY IMAP4rev1 ID] in\r\n"
        b'* ID ("name" {4}\r\nDove)\r\nA3 OK\r\n* 2 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\nA4 OK [READ-WRITE] s\r\n'
        b"* BYE bye\r\nA5 OK\r\n",
    ),
    "pop3": (
        [
            lambda c: c.capa(),
            lambda c: c.authenticate(Login("a", "secret-pw")),
            lambda c: c.stat(),
            lambda c: c.quit(),
        ],
        b"+OK hi\r\n+OK\r\nUSER\r\nSASL LOGIN\r\n..x\r\n.\r\n+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n"
        b"+OK in\r\n+OK 1 10\r\n+OK bye\r\n",
    ),
    "smtp": (
        [
            lambda c: c.ehlo(),
            lambda c: c.authenticate(Login("a", "secret-pw")),
            lambda c: c.noop(),
            lambda c: c.quit(),
        ],
        b"220-hi\r\n220 there\r\n250-x\r\n250-AUTH LOGIN\r\n250 SIZE 1\r\n334 VXNlcm5hbWU6\r\n"
        b"334 UGFzc3dvcmQ6\r\n235 ok\r\n250 ok\r\n221 bye\r\n",
    ),
}


def _replay(protocol: str, chunks: list[bytes]) -> list[Event]:
    """Feed a transcript's chunks, sending its commands whenever the client is ready."""
    commands, _ = TRANSCRIPTS[protocol]
    pending = list(commands)
    client = _client(protocol)
    client.max_line_length = 1000
    client._reader.max_line_length = 1000
    events: list[Event] = []
    for chunk in chunks:
        new = client.receive_data(chunk)
        events.extend(new)
        for event in new:
            if isinstance(event, Challenge):
                client.answer_challenge()
        if client.state is State.READY and pending:
            pending.pop(0)(client)
    assert not pending
    return events


@given(protocol=st.sampled_from(list(TRANSCRIPTS)), data=st.data())
def test_a_transcript_gives_the_same_events_however_it_is_cut(
    protocol: str, data: st.DataObject
) -> None:
    _, stream = TRANSCRIPTS[protocol]
    # Cut at every line end at least (a command is sent only once its answer is complete).
    lines = stream.splitlines(keepends=True)
    whole = _replay(protocol, lines)
    pieces: list[bytes] = []
    for line in lines:
        pieces.extend(piece for piece in _cut(data, line) if piece)  # b"" would mean the end
    assert _replay(protocol, pieces) == whole
    assert len(whole) >= 4
