"""sijil.store."""
