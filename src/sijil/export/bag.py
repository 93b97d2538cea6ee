"""Writing an evidence package's bag: payload files, BagIt manifests and tag files.

The payload is a map of paths inside the bag to their content: bytes, a vault blob
(``("vault", sha256)``, streamed and decrypted chunk by chunk) or a file made at
export (``("file", path)``, a scrubbed working copy). The zip is written atomically.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from sijil.export import verifier
from sijil.fsutil import atomic_writer
from sijil.vault.vault import Vault

__all__ = ["Payload", "report_file", "write_bag"]

#: path in the bag -> bytes, ("vault", sha256) or ("file", path of a copy made at export)
Payload = dict[str, bytes | tuple[str, str]]


def report_file(report_id: int, position: int, name: str) -> str:
    """Where a report's attachment (a working copy) lies in the bag."""
    return f"data/reports/report-{report_id}/{position + 1:02d}-{name}"


README = """\
sijil evidence package
======================

This bag holds evidence exported from a sijil desk with its chain of custody.
You do not need to trust the desk or its software to check it:

1. Get the desk's public key file (desk.pub) from the desk through a channel you
   trust (not from this package) and compare its fingerprint with the one the
   desk publishes.
2. Run: python3 verify_package.py THIS.zip --desk-key desk.pub [--tsa-ca root.pem]
   (needs Python 3.11+ and the 'cryptography' package; openssl for timestamps;
   root.pem is the timestamp authority's root, obtained from the authority).
   Or re-implement the checks from the description below; they are short.

What is checked: every file against manifest-sha256.txt (BagIt); the desk's
Ed25519 signature on data/ledger/tree-head.json; each line of
data/ledger/entries.jsonl is proven in that tree head (RFC 9162: leaf hash
SHA-256(0x00 || line), node hash SHA-256(0x01 || left || right), proofs in
data/ledger/proofs.json); every payload file is data/reports/report-<id>/<nn>-<name>
for an attachment the "item.registered" entry lists (or a sealed original named
by its envelope id, or the ledger files) and nothing else is in data/; each hashes
to what the ledger recorded when it arrived (or, if scrubbed at export, to the
derivative the "exported" entry records); every field in data/evidence.json
hashes (SHA-256 of its canonical JSON) to the digest in its "item.registered"
entry. An entry with "salted": true holds commitments instead, SHA-256(salt ||
canonical JSON of the value) (a file's value: its SHA-256 in hex), with the salts
of this package's own values in evidence.json ("salts"). An incident's package
also holds data/incident.json: its record, revisions, evidence links, attribution
and approved assessments with their reviews, each
naming its entry ("ledger": seq), whose codes, ids and digests each must match.
With a tree-head.tsr, an RFC 3161 authority attests when the head existed:
openssl ts -verify -digest <sha256 of the tree_head text> -in tree-head.tsr -CAfile ROOT
where ROOT is the authority's root certificate from the authority itself; the
tsa-ca.pem in this package is only a hint of which authority to ask.
"""


def _content(content: bytes | tuple[str, str], vault: Vault) -> Iterable[bytes]:
    if isinstance(content, bytes):
        return [content]
    where, ref = content
    return vault.chunks(ref) if where == "vault" else _file_chunks(Path(ref))


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        yield from iter(lambda: fh.read(1 << 20), b"")


def write_bag(
    out: Path,
    bag: str,
    payload: Payload,
    *,
    vault: Vault,
    description: str,
) -> None:
    """Write the zip holding one bag, ``<bag>/``, to ``out`` (atomically)."""
    manifest: list[str] = []
    total = 0
    with atomic_writer(out) as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in sorted(payload.items()):
            hasher = hashlib.sha256()
            with archive.open(f"{bag}/{path}", "w", force_zip64=True) as member:
                chunks = _content(content, vault)
                for chunk in chunks:
                    hasher.update(chunk)
                    member.write(chunk)
                    total += len(chunk)
            manifest.append(f"{hasher.hexdigest()}  {path}\n")
        verifier_source = Path(verifier.__file__).read_bytes()
        tags = {
            "bagit.txt": verifier.BAGIT_TXT,
            "bag-info.txt": (
                f"Source-Organization: sijil desk\n"
                f"Bagging-Date: {datetime.now(UTC):%Y-%m-%d}\n"
                f"Payload-Oxum: {total}.{len(payload)}\n"
                f"External-Description: {description}\n"
            ).encode(),
            "manifest-sha256.txt": "".join(manifest).encode(),
            "README.txt": README.encode(),
            "verify_package.py": verifier_source,
        }
        for name, data in tags.items():
            archive.writestr(f"{bag}/{name}", data)
        tagmanifest = "".join(
            f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(tags.items())
        )
        archive.writestr(f"{bag}/tagmanifest-sha256.txt", tagmanifest)
