"""The data conformance report: the committed page is current, and the comparison rules hold."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import pytest
from conftest import REPO, SHARED, require_shared, server

from mailsettings.data import load_bundled
from mailsettings.models import Deviation, Protocol, Provider, Security

sys.path.insert(0, str(REPO / "tools"))
import conformance

PAGE = REPO / "docs" / "data-conformance.md"


def test_committed_report_is_current(tmp_path: Path) -> None:
    require_shared("ispdb", "deltachat-providers")
    output = tmp_path / "data-conformance.md"
    assert conformance.main(["--shared", str(SHARED), "--output", str(output)]) == 0
    assert PAGE.read_text(encoding="utf-8") == output.read_text(encoding="utf-8"), (
        "docs/data-conformance.md is out of date: run `python tools/conformance.py`"
    )


# --- the rules, on small made-up data -----------------------------------------------


PROVIDER = Provider(
    id="example.com",
    name="Example",
    domains=("example.com", "example.net"),
    servers=(
        server("imap", "imap.%EMAILDOMAIN%", 993, "ssl"),
        server("pop3", "pop.example.com", 995, "ssl"),
        server("pop3", "pop.example.com", 110, "plain", legacy=True, legacy_reason="Old."),
        server("smtp", "smtp.example.com", 465, "ssl"),
    ),
    deviations=(Deviation(reference="ispdb", protocol="smtp", reason="Provider says 465."),),
)


def _reference(
    *servers: tuple[Protocol, str, int, Security], domains: tuple[str, ...] = ("example.com",)
) -> conformance.Reference:
    entry = conformance.Entry("example.com.xml", domains, servers)
    return conformance.Reference(conformance.ISPDB, "ISPDB", "owner/repo", "0" * 40, (entry,))


def test_agreement_counts_templates_and_extra_servers() -> None:
    result = conformance.compare(
        [PROVIDER],
        _reference(
            (Protocol.IMAP, "imap.%EMAILDOMAIN%", 993, Security.SSL),
            (Protocol.POP3, "pop.example.com", 995, Security.SSL),
            domains=("example.com", "example.net", "elsewhere.example"),
        ),
    )
    imap, pop = result.tallies[Protocol.IMAP], result.tallies[Protocol.POP3]
    assert (imap.compared, imap.host, imap.full) == (2, 2, 2)
    assert (pop.compared, pop.full) == (2, 2)
    assert result.tallies[Protocol.SMTP].compared == 0  # the reference names no SMTP server
    assert result.missing == {"example.com.xml": ["elsewhere.example"]}
    assert not result.differences


def test_differences_are_explained_by_deviations_or_legacy_servers() -> None:
    result = conformance.compare(
        [PROVIDER],
        _reference(
            (Protocol.IMAP, "imap.example.com", 143, Security.STARTTLS),
            (Protocol.POP3, "pop.example.com", 110, Security.PLAIN),
            (Protocol.SMTP, "smtp.example.com", 25, Security.PLAIN),
        ),
    )
    imap, pop, smtp = (result.tallies[p] for p in Protocol)
    assert (imap.host, imap.full, imap.unexplained) == (1, 0, 1)
    assert (pop.explained, smtp.explained) == (1, 1)
    reasons = {d.protocol: d.reasons for d in result.differences}
    assert reasons[Protocol.IMAP] == ()
    assert reasons[Protocol.POP3] == ("Kept here as a legacy server: Old.",)
    assert reasons[Protocol.SMTP] == ("Provider says 465.",)
    page = conformance.render(
        [PROVIDER], [_reference((Protocol.IMAP, "imap.example.com", 143, Security.STARTTLS))]
    )
    assert "**unexplained**" in page
    assert "`imap.example.com:143` starttls" in page


# --- domains left out on purpose ------------------------------------------------------


@cache
def _references() -> tuple[conformance.Reference, ...]:
    return conformance.load_references(SHARED)


@cache
def _bundled_domains() -> frozenset[str]:
    return frozenset(domain for provider in load_bundled() for domain in provider.domains)


def _reference_domains() -> set[str]:
    return {d for ref in _references() for entry in ref.entries for d in entry.domains}


def test_every_missing_domain_has_a_recorded_reason() -> None:
    require_shared("ispdb", "deltachat-providers")
    left_out = conformance.load_left_out()
    providers = load_bundled()
    for reference in _references():
        missing = conformance.compare(providers, reference).missing
        unexplained = sorted(d for ds in missing.values() for d in ds if d not in left_out)
        assert unexplained == [], f"add to tools/left-out.toml why these are left out: {reference.title}"


def test_left_out_domains_are_neither_in_the_data_nor_stale() -> None:
    require_shared("ispdb", "deltachat-providers")
    left_out = conformance.load_left_out()
    bundled = _bundled_domains()
    assert sorted(left_out.keys() & bundled) == [], "in the data now: remove from left-out.toml"
    listed = _reference_domains()
    assert sorted(left_out.keys() - listed) == [], "no reference lists these any more"


def test_a_domain_left_out_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "left-out.toml"
    path.write_text(
        '[[left_out]]\nreason = "a"\ndomains = ["x.example"]\n'
        '[[left_out]]\nreason = "b"\ndomains = ["x.example"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"x\.example is listed twice"):
        conformance.load_left_out(path)


def test_the_data_has_more_domains_than_both_references_together() -> None:
    require_shared("ispdb", "deltachat-providers")
    bundled = _bundled_domains()
    listed = _reference_domains()
    assert len(bundled) > len(listed)
    left_out = conformance.load_left_out()
    assert listed - bundled <= left_out.keys()


def test_the_page_gives_the_reason_a_missing_domain_is_left_out() -> None:
    reference = _reference(domains=("example.com", "mx.example.org", "new.example"))
    page = conformance.render([PROVIDER], [reference], {"mx.example.org": "A server name."})
    assert "| `example.com.xml` | `mx.example.org` | A server name. |" in page
    assert f"| `example.com.xml` | `new.example` | {conformance.NO_REASON} |" in page
    assert "| ISPDB | 3 | 1 | 2 | 1 |" in page
