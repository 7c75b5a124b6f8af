"""Coverage-guided fuzzing of the code that reads untrusted input (atheris / libFuzzer).

    pip install -e ".[fuzz]"
    python tools/fuzz.py TARGET [--seconds N] [--corpus DIR] [--artifacts DIR] [-- LIBFUZZER_OPTION ...]
    python tools/fuzz.py TARGET --replay FILE ...   # run saved inputs once, without atheris

Targets, and the only error each may raise (anything else, a failed invariant, an
input running longer than 10 s or memory over 2 GB is a finding):

``address``
    :func:`mailsettings.address.parse_address` of the input as text (bytes that are
    not UTF-8 become lone surrogates), then :meth:`Registry.lookup` (bundled data only,
    no network) and :meth:`Server.login_for`: :class:`~mailsettings.InvalidAddressError`,
    or ``ProviderNotFoundError`` from the lookup. A parsed address parses again to itself.
``xml``
    :meth:`Provider.from_autoconfig_xml` of the bytes, and of the text when they are
    UTF-8: :class:`~mailsettings.AutoconfigError`. A provider read from a document is
    written with :meth:`Provider.to_autoconfig_xml` and read back equal.
``pox``
    :func:`mailsettings.sources.autodiscover.read_pox`: :class:`ValueError`.
``result``
    :meth:`LookupResult.model_validate_json`: pydantic's ``ValidationError``. A result
    that validates dumps and validates back equal, with an equal hash.

The corpus (seeded with bundled providers' autoconfig files, a few addresses, POX
answers and results) grows in ``--corpus`` (default: a folder under the system's
temporary directory); a crashing input is written to ``--artifacts`` and can be
replayed with ``--replay``. The fuzzer is not part of the test suite or of CI; the
test suite runs every target's seeds once (``tests/test_fuzz_inputs.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported for real inside the instrumentation block
    from mailsettings import Registry

# Modules whose code the fuzzer instruments for coverage (imported inside the
# instrumentation block; the library imports some of them lazily otherwise).
INSTRUMENTED = (
    "mailsettings",
    "mailsettings.address",
    "mailsettings.models",
    "mailsettings.autoconfig",
    "mailsettings._autoconfig_xml",
    "mailsettings.registry",
    "mailsettings.store",
    "mailsettings.sources.autodiscover",
    "idna",
    "defusedxml.ElementTree",
)
EMAIL = "jane@example.com"


def check_address(data: bytes) -> None:
    """Parse, look up and make a login name of the input as text."""
    from mailsettings import InvalidAddressError, ProviderNotFoundError
    from mailsettings.address import parse_address

    text = data.decode("utf-8", "surrogateescape")
    try:
        address = parse_address(text)
    except InvalidAddressError:
        address = None
    if address is not None:
        again = parse_address(str(address))
        assert again == address, (address, again)
        assert address.domain_ascii.isascii()
        assert len(address.domain_ascii) <= 253
    try:
        result = _registry().lookup(text)
    except InvalidAddressError:
        assert address is None
        return
    except ProviderNotFoundError:
        assert address is not None
        return
    assert address is not None
    assert result.domain_ascii == address.domain_ascii
    for server in result.servers:
        try:
            login = server.login_for(text)
        except InvalidAddressError:
            assert address.local is None  # a bare domain has no login name
            continue
        assert login, (text, server)
        assert "%EMAIL" not in login.replace(address.local or "", ""), login


def check_xml(data: bytes) -> None:
    """Read the input as an autoconfig document (bytes, and text when it is UTF-8)."""
    from mailsettings import AutoconfigError, Provider

    inputs: list[bytes | str] = [data]
    with contextlib.suppress(UnicodeDecodeError):
        inputs.append(data.decode("utf-8"))
    for document in inputs:
        try:
            provider = Provider.from_autoconfig_xml(document)
        except AutoconfigError:
            continue
        written = provider.to_autoconfig_xml()
        assert Provider.from_autoconfig_xml(written) == provider, written


def check_pox(data: bytes) -> None:
    """Read the input as an Autodiscover (POX) answer."""
    from mailsettings.sources.autodiscover import MAX_PROTOCOLS, read_pox

    try:
        answer = read_pox(data, EMAIL)
    except ValueError:
        return
    assert len(answer.servers) <= MAX_PROTOCOLS


def check_result(data: bytes) -> None:
    """Validate the input as a lookup result in JSON."""
    from pydantic import ValidationError

    from mailsettings import LookupResult

    try:
        result = LookupResult.model_validate_json(data)
    except ValidationError:
        return
    again = LookupResult.model_validate_json(result.model_dump_json())
    assert again == result
    assert hash(again) == hash(result)


_REGISTRIES: list[Registry] = []


def _registry() -> Registry:
    """One registry for every input (its caches are part of what is fuzzed)."""
    if not _REGISTRIES:
        from mailsettings import Registry

        _REGISTRIES.append(Registry())
    return _REGISTRIES[0]


# --- seeds -------------------------------------------------------------------------------


def address_seeds() -> list[bytes]:
    """Addresses typed the ways users type them."""
    texts = [
        "someone@qq.com",
        " Jane.Doe＠ＱＱ。com. ",
        "用户@163.com",
        "a@bücher.example",
        "qq.com",
        "x@xn--bcher-kva.example",
        "a@b@c.com",
        '"quoted"@qq.com',
        "a..b@qq.com",
        "a@[127.0.0.1]",
        "A@GMAIL.COM",
        "user+tag@outlook.com",
    ]
    return [text.encode() for text in texts]


def xml_seeds() -> list[bytes]:
    """Every bundled provider with servers, written as an autoconfig document."""
    from mailsettings import Registry

    return [
        provider.to_autoconfig_xml().encode()
        for provider in Registry().providers()
        if provider.domains and any(not server.legacy for server in provider.servers)
    ]


POX_ANSWER = """<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
<Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
<User><DisplayName>Jane</DisplayName></User>
<Account><AccountType>email</AccountType><Action>{action}</Action>{body}</Account>
</Response></Autodiscover>"""


def pox_seeds() -> list[bytes]:
    """Settings, redirects, an Exchange-only answer and an error answer."""
    protocols = "".join(
        f"<Protocol><Type>{kind}</Type><Server>{host}</Server><Port>{port}</Port>"
        f"<LoginName>jane</LoginName><SSL>{ssl}</SSL><SPA>off</SPA>{extra}</Protocol>"
        for kind, host, port, ssl, extra in (
            ("IMAP", "imap.example.com", 993, "on", ""),
            ("POP3", "pop.example.com", 110, "on", "<Encryption>TLS</Encryption>"),
            ("SMTP", "smtp.example.com", 587, "off", "<Encryption>None</Encryption>"),
            ("EXCH", "exchange.example.com", 443, "on", ""),
        )
    )
    answers = [
        POX_ANSWER.format(action="settings", body=protocols),
        POX_ANSWER.format(
            action="redirectAddr", body="<RedirectAddr>jane@example.org</RedirectAddr>"
        ),
        POX_ANSWER.format(
            action="redirectUrl",
            body="<RedirectUrl>https://mail.example.org/autodiscover/autodiscover.xml</RedirectUrl>",
        ),
        POX_ANSWER.format(action="settings", body="<Protocol><Type>EXPR</Type></Protocol>"),
        POX_ANSWER.replace(
            "<Account>",
            "<Error><ErrorCode>600</ErrorCode><Message>Invalid Request</Message></Error><Account>",
        ),
    ]
    return [answer.encode() for answer in answers]


def result_seeds() -> list[bytes]:
    """Bundled results in the full and the compact form."""
    import mailsettings

    results = [mailsettings.lookup(address) for address in ("a@qq.com", "a@gmail.com", "a@163.com")]
    return [r.model_dump_json().encode() for r in results] + [
        r.model_dump_json(context={"compact": True}).encode() for r in results
    ]


@dataclass(frozen=True)
class Target:
    """A fuzz target: the check of one input, and the inputs to start from."""

    check: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]


TARGETS = {
    "address": Target(check_address, address_seeds),
    "xml": Target(check_xml, xml_seeds),
    "pox": Target(check_pox, pox_seeds),
    "result": Target(check_result, result_seeds),
}


# --- running -------------------------------------------------------------------------------


def replay(target: Target, files: list[Path]) -> int:
    """Run each file's bytes through the target once; the number of inputs run."""
    for file in files:
        print(f"{file}: ", end="", flush=True)
        target.check(file.read_bytes())
        print("ok")
    return len(files)


def fuzz(name: str, seconds: int, corpus: Path, artifacts: Path, extra: list[str]) -> None:
    """Run atheris on ``name`` for ``seconds``; never returns (libFuzzer exits)."""
    try:
        atheris = importlib.import_module("atheris")
    except ImportError:
        raise SystemExit('atheris is not installed: pip install -e ".[fuzz]"') from None
    with atheris.instrument_imports(include=["mailsettings", "idna", "defusedxml"]):
        for module in INSTRUMENTED:
            importlib.import_module(module)
    target = TARGETS[name]
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    if not any(corpus.iterdir()):
        for index, seed in enumerate(target.seeds()):
            (corpus / f"seed-{index:04d}").write_bytes(seed)
    print(f"fuzzing {name} for {seconds} s; corpus {corpus}, findings in {artifacts}", flush=True)
    arguments = [
        sys.argv[0],
        f"-max_total_time={seconds}",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-max_len=131072" if name == "xml" else "-max_len=16384",
        f"-artifact_prefix={artifacts}/",
        *extra,
        str(corpus),
    ]
    atheris.Setup(arguments, target.check)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module's description)."""
    parser = argparse.ArgumentParser(
        description="Coverage-guided fuzzing of mailsettings' input parsers (atheris).",
        epilog="Arguments after -- go to libFuzzer, e.g. -- -jobs=2 -workers=2.",
    )
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--seconds", type=int, default=60, help="how long to fuzz (default 60)")
    parser.add_argument("--corpus", type=Path, help="corpus folder (kept between runs)")
    parser.add_argument("--artifacts", type=Path, help="where crashing inputs are written")
    parser.add_argument(
        "--replay", type=Path, nargs="+", metavar="FILE", help="run these inputs once"
    )
    arguments, extra = parser.parse_known_args(argv)
    extra = [item for item in extra if item != "--"]
    if arguments.replay:
        replay(TARGETS[arguments.target], arguments.replay)
        return 0
    base = Path(tempfile.gettempdir()) / "mailsettings-fuzz" / arguments.target
    fuzz(
        arguments.target,
        arguments.seconds,
        arguments.corpus or base / "corpus",
        arguments.artifacts or base / "artifacts",
        extra,
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
