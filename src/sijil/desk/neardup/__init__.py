"""sijil.desk.neardup: the desk's near-duplicate workflow over the media library.

catalog   the store's fingerprints in a HammingIndex, saved beside the store, caught up
intake    the import hook: fingerprint, match, record rows and ledger entries
backfill  fingerprint attachments that have none, oldest first
lookup    "where have we seen this?" and matches per report
"""
