"""Shared test configuration."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import settings

from mailsettings import Server

# Fixture modules beside this file (tests/ is on sys.path: it has no __init__.py).
pytest_plugins = ["dns_servers", "https_server", "mail_servers", "hostile_mail_servers"]

# CI runs without deadlines (shared, noisy machines); locally the default profile applies.
settings.register_profile("ci", deadline=None, max_examples=300)
settings.load_profile("ci" if os.environ.get("CI") else "default")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MAILSETTINGS_SHARED_DIR", REPO.parent / "shared"))


def require_shared(*folders: str) -> Path:
    """The ``shared`` folder holding the reference snapshots ``folders``.

    Without them the calling test is skipped with the reason, or fails when
    ``MAILSETTINGS_REQUIRE_ISPDB=1`` (``.ci/run`` sets it: there the tests must run).
    """
    missing = [name for name in folders if not any((SHARED / name).glob("*"))]
    if not missing:
        return SHARED
    message = (
        f"the reference snapshot(s) {', '.join(missing)} are missing from {SHARED} "
        "(put ../shared beside the clone, or set MAILSETTINGS_SHARED_DIR)"
    )
    if os.environ.get("MAILSETTINGS_REQUIRE_ISPDB") == "1":
        pytest.fail(message + "; MAILSETTINGS_REQUIRE_ISPDB=1 requires them.")
    pytest.skip(message)


def server(protocol: str, host: str, port: int, security: str, **extra: object) -> Server:
    """A :class:`Server` from plain values, for test data."""
    return Server.model_validate(
        {"protocol": protocol, "host": host, "port": port, "security": security, **extra}
    )


def run_with_a_terminal(
    command: Sequence[str], *, terminal: str, env: Mapping[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], bytes]:
    """Run ``command`` with a pseudo-terminal as its ``terminal`` stream ("stdout" or "stderr").

    The other stream is captured as text. Returns the finished process and what the
    terminal received.
    """
    import pty

    controller, tty = pty.openpty()
    try:
        done = subprocess.run(
            list(command),
            stdout=tty if terminal == "stdout" else subprocess.PIPE,
            stderr=tty if terminal == "stderr" else subprocess.PIPE,
            text=True,
            env=env,
            check=False,
            timeout=60,
        )
        os.close(tty)
        tty = -1
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
        if tty != -1:
            os.close(tty)
    return done, shown
