"""Network sources for domains the bundled database does not list (imported only when used)."""
