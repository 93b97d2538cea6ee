"""sijil (سجل, "the record"): sealed evidence from hidden correspondents to a verified record."""

from sijil.errors import SijilError

__version__ = "0.1.0"
__all__ = ["SijilError", "__version__"]
