"""sijil.ledger: the custody ledger (RFC 9162 Merkle log, signed tree heads, audit)."""
