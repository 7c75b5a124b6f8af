"""The package version (semantic versioning), in a module of its own so any module may import it."""

__version__ = "0.2.0"
