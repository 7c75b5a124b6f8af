"""Compile the TOML sources into ``compiled/``: ``python -m mailsettings.data [--check]``."""

from __future__ import annotations

import sys
from pathlib import Path

from . import compile_providers, compiled_dir, load_provider_files, source_dir


def _current_files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*.json"))
    }


def main(argv: list[str] | None = None) -> int:
    """Compile the sources; with ``--check``, only report whether ``compiled/`` is current."""
    args = sys.argv[1:] if argv is None else argv
    compiled = compile_providers(load_provider_files(source_dir().glob("*.toml")))
    root = compiled_dir()
    current = _current_files(root) if root.exists() else {}
    if "--check" in args:
        stale = sorted(set(compiled) ^ set(current) | {
            name for name in compiled.keys() & current.keys() if compiled[name] != current[name]
        })
        if stale:
            print(f"compiled data is out of date ({len(stale)} files, e.g. {stale[0]}); "
                  "run: python -m mailsettings.data")
            return 1
        print("compiled data is up to date")
        return 0
    for name in current.keys() - compiled.keys():
        (root / name).unlink()
    written = 0
    for name, content in compiled.items():
        if current.get(name) != content:
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            written += 1
    removed = len(current.keys() - compiled.keys())
    print(f"{root}: {len(compiled)} files, {written} written, {removed} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
