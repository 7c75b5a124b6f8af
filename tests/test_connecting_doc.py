"""Every example of docs/connecting.md, run as written against the loopback mail servers."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
from dns_servers import Dnsmasq
from mail_servers import DOMAIN, MAIL_HOST, MailServers

PAGE = Path(__file__).resolve().parents[1] / "docs" / "connecting.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 6


def test_the_examples_run_in_order(mail_servers: MailServers, start_dnsmasq: type[Dnsmasq]) -> None:
    names = start_dnsmasq([f"--address=/{DOMAIN}/{MAIL_HOST}"])
    namespace: dict[str, Any] = {
        "network": mail_servers.network(names.resolver()),
        "password": mail_servers.full_address_user.password,
    }
    printed = io.StringIO()
    for number, block in enumerate(BLOCKS, 1):
        with contextlib.redirect_stdout(printed):
            try:
                exec(compile(block, f"{PAGE.name} example {number}", "exec"), namespace)
            except Exception as error:  # pragma: no cover - the message says which example
                pytest.fail(f"example {number} of {PAGE.name} failed: {error!r}")
    text = printed.getvalue()
    assert "certificate valid until" in text
    assert "Found by probing the usual host names of guess.test" in text
    assert "('imap', 'alice@guess.test', 'PLAIN')" in text
    assert "wants a client authorization code" in text
    assert mail_servers.full_address_user.password not in text
