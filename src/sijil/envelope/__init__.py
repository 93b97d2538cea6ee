"""sijil.envelope."""
