"""Where the desk keeps its evidence vault: ``HOME/vault.json``, or the folder by default.

A desk on one laptop keeps its vault in ``HOME/vault``. A desk that outgrows it
names an S3-compatible object store in ``HOME/vault.json``::

    {"url": "s3://BUCKET/PREFIX?endpoint=https://s3.example.org&region=eu-west-1"}

(``endpoint`` left out for AWS S3 itself; ``profile=NAME`` picks a profile of the
shared credentials file). The file holds no secret: credentials come from the
standard AWS environment variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``)
or a credentials file (``AWS_SHARED_CREDENTIALS_FILE``, ``~/.aws/credentials``).
``sijil desk vault migrate --to URL`` copies a folder vault there, verifies every
blob and only then writes this file (sijil.desk.vault_migrate).
"""

from __future__ import annotations

import json
from pathlib import Path

from sijil.errors import ConfigError
from sijil.fsutil import atomic_write
from sijil.vault import BlobStore, FolderBlobStore, blob_store_from_url

__all__ = ["VAULT_CONFIG", "load_vault_url", "open_blob_store", "save_vault_url"]

VAULT_CONFIG = "vault.json"
# a vault URL is a bucket, a prefix and an endpoint: a few hundred characters at most
MAX_CONFIG_BYTES = 16 * 1024


def load_vault_url(config: Path) -> str | None:
    """The vault URL in ``config``, or None when there is no such file (a folder vault)."""
    try:
        raw = config.read_bytes()
    except FileNotFoundError:
        return None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{config.name} is too large to be a vault setting")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config.name} is not valid JSON") from exc
    url = data.get("url") if isinstance(data, dict) else None
    if not isinstance(url, str) or not url:
        raise ConfigError(f'{config.name} must read {{"url": "s3://BUCKET/PREFIX?endpoint=..."}}')
    return url


def save_vault_url(config: Path, url: str) -> None:
    """Point the desk at the vault ``url`` (checked first: a bad URL is never saved)."""
    blob_store_from_url(url)
    atomic_write(config, (json.dumps({"url": url}, indent=2) + "\n").encode(), mode=0o600)


def open_blob_store(config: Path, folder: Path) -> BlobStore:
    """The desk's blob store: the one ``config`` names, else the folder."""
    url = load_vault_url(config)
    return FolderBlobStore(folder) if url is None else blob_store_from_url(url)
