"""Write the generated seeds into fuzz/corpus/<target>/ (idempotent; seeds are named by hash).

Run once when a target is added (``python fuzz/make_seeds.py``); the corpus then grows
by fuzzing and is kept in the repository. Media seeds are not copied: ``fuzz/run.py``
reads them from the shared corpus (SIJIL_FUZZ_SHARED, default /work/shared/corpus).
A seed evidence package can be given as ``--package ZIP --desk-pub desk.pub``
(any package ``sijil desk export`` wrote): it is re-packed uncompressed, without the
copy of the verifier it carries, so the fuzzer mutates structure, not deflate streams.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import sys
import zipfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sijil.crypto.identity import CorrespondentIdentity, DeskPublic
from sijil.envelope.sealing import FORMAT_LINE, AttachmentSource, Draft, seal
from sijil.envelope.shards import format_shard, split
from sijil.relay.protocol.auth import sign_request

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
# the fixed keys of fuzz/targets.py
DESK_AGE = X25519PrivateKey.from_private_bytes(bytes(range(32)))
DESK_SIGN = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
NOW = 1_800_000_000.0


def put(target: str, data: bytes) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def envelopes() -> list[bytes]:
    desk = DeskPublic(age=DESK_AGE.public_key(), sign=DESK_SIGN.public_key())
    sender = CorrespondentIdentity(
        sign=Ed25519PrivateKey.from_private_bytes(bytes(range(64, 96))),
        box=X25519PrivateKey.from_private_bytes(bytes(range(96, 128))),
    )
    made = []
    for files in ({}, {"photo.jpg": b"\xff\xd8\xff\xe0" + b"x" * 200}):
        out = io.BytesIO()
        sources = [
            AttachmentSource(name=name, media_type="image/jpeg", stream=io.BytesIO(data))
            for name, data in files.items()
        ]
        draft = Draft(title="قصف قرب المخبز", body="Three buildings hit.\n", lang="ar")
        seal(draft, sources, sender=sender, desk=desk, out=out)
        made.append(out.getvalue())
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", type=Path)
    parser.add_argument("--desk-pub", type=Path)
    args = parser.parse_args(argv)
    sealed = envelopes()
    for data in sealed:
        put("envelope", data)
        for shard in split(data, k=2, n=3, shard_bytes=256):
            put("shards", format_shard(shard).encode())
        put("shards", "\n".join(format_shard(s) for s in split(data, k=3, n=5)).encode())
    # the inner layout: format line, length, a manifest, a signature, an attachment
    manifest = (
        b'{"attachments":[],"body":"b","created_at":"2026-01-01T00:00:00Z","lang":"en",'
        b'"sign_key":"' + base64.b64encode(bytes(32)) + b'","title":"t","v":1}'
    )
    inner = FORMAT_LINE + len(manifest).to_bytes(4, "big") + manifest + bytes(64)
    put("envelope_inner", inner)
    put("manifest", manifest)
    blob = base64.b64encode(bytes(32)).decode()
    claimed = base64.b64encode(b"a" * 64).decode()
    for text in (
        f"Tus-Resumable: 1.0.0\nUpload-Length: 1024\nUpload-Metadata: envelope {claimed}\n",
        "Tus-Resumable: 1.0.0\nContent-Type: application/offset+octet-stream\n"
        f"Upload-Offset: 0\nContent-Length: 10\nUpload-Checksum: sha256 {blob}\n",
        "Tus-Resumable: 1.0.0\nUpload-Defer-Length: 1\nUpload-Concat: final;/a /b\n",
    ):
        put("tus", text.encode())
    headers = sign_request(DESK_SIGN, method="GET", path="/v1/desk/envelopes", body=b"", now=NOW)
    put("desk_request", "".join(f"{k}: {v}\n" for k, v in headers.items()).encode() + b"\n")
    put(
        "desk_request",
        b"sijil-challenge: 1800000000.00.00\nsijil-key: " + blob.encode() + b"\n\nbody",
    )
    if args.package is not None:
        repack(args.package)
        if args.desk_pub is not None:
            (HERE / "seeds").mkdir(exist_ok=True)
            (HERE / "seeds" / "verifier-desk.pub").write_bytes(args.desk_pub.read_bytes())
    return 0


def repack(package: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            if info.filename.endswith("/verify_package.py"):
                continue
            dst.writestr(info.filename, src.read(info))
    put("verifier", out.getvalue())


if __name__ == "__main__":
    sys.exit(main())
