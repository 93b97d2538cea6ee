"""sijil.export: evidence packages and their standalone verifier (which imports no sijil)."""
