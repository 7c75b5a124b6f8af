"""Rebuild ``providers.json`` from the TOML sources: ``python -m mailsettings.data``."""

from __future__ import annotations

import sys
from pathlib import Path

from . import COMPILED, compile_providers, load_provider_files, source_dir


def main() -> int:
    """Compile the sources; with ``--check``, only report whether the file is current."""
    compiled = compile_providers(load_provider_files(source_dir().glob("*.toml")))
    target = Path(__file__).with_name(COMPILED)
    if "--check" in sys.argv[1:]:
        current = target.exists() and target.read_bytes() == compiled
        print(f"{COMPILED} is {'up to date' if current else 'out of date'}")
        return 0 if current else 1
    target.write_bytes(compiled)
    print(f"wrote {target} ({len(compiled)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
