"""sijil.export: evidence packages, the whole-desk audit, and the standalone verifier."""
