"""sijil.cli."""
