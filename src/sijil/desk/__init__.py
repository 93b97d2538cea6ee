"""sijil.desk."""
