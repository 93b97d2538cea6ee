"""sijil.field."""
