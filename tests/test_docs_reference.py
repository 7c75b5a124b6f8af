"""The API reference (docs/reference.md) documents every public name, and only those."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import mailsettings

REPO = Path(__file__).resolve().parents[1]
REFERENCE = (REPO / "docs" / "reference.md").read_text(encoding="utf-8")
DOCUMENTED = re.findall(r"^::: mailsettings\.(\w+)$", REFERENCE, re.MULTILINE)


def test_every_public_name_is_in_the_reference() -> None:
    missing = sorted(set(mailsettings.__all__) - set(DOCUMENTED))
    assert not missing, f"add to docs/reference.md: {', '.join(f'::: mailsettings.{n}' for n in missing)}"


def test_the_reference_documents_only_public_names_once() -> None:
    assert sorted(DOCUMENTED) == sorted(set(DOCUMENTED))
    assert set(DOCUMENTED) <= set(mailsettings.__all__)


def test_the_reference_is_in_the_site_and_linked_from_the_readme() -> None:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    pages = [next(iter(entry.values())) for entry in config["nav"]]
    assert "reference.md" in pages
    plugins = [next(iter(p)) if isinstance(p, dict) else p for p in config["plugins"]]
    assert "mkdocstrings" in plugins
    assert "docs/reference.md" in (REPO / "README.md").read_text(encoding="utf-8")
