"""Shared test configuration."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import settings

# Fixture modules beside this file (tests/ is on sys.path: it has no __init__.py).
pytest_plugins = ["dns_servers", "https_server"]

# CI runs without deadlines (shared, noisy machines); locally the default profile applies.
settings.register_profile("ci", deadline=None, max_examples=300)
settings.load_profile("ci" if os.environ.get("CI") else "default")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MAILSETTINGS_SHARED_DIR", REPO.parent / "shared"))
