"""sijil.scrub."""
