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
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sijil.crypto.identity import CorrespondentIdentity, DeskPublic
from sijil.envelope.age import AgeReader
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
    (folder / hashlib.sha256(data).hexdigest()[:40]).write_bytes(data)


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
    for data in sealed:
        # the inner layout (format line, length, manifest, signature, attachments)
        inner = AgeReader(io.BytesIO(data), DESK_AGE).read()
        put("envelope_inner", inner)
        start = len(FORMAT_LINE) + 4
        put("manifest", inner[start : start + int.from_bytes(inner[start - 4 : start], "big")])
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
    media_seeds()
    if args.package is not None:
        repack(args.package)
        if args.desk_pub is not None:
            (HERE / "seeds").mkdir(exist_ok=True)
            (HERE / "seeds" / "verifier-desk.pub").write_bytes(args.desk_pub.read_bytes())
    return 0


def media_seeds() -> None:
    """Small files of each format with metadata to find (the shared corpus's are large)."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    image = Image.new("RGB", (8, 8), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0x0131] = "Editor 1.0"  # Software
    for fmt, target, extra in (
        ("JPEG", "scrub_jpeg", {"exif": exif.tobytes()}),
        ("PNG", "scrub_png", {"pnginfo": _png_info(PngInfo)}),
        ("GIF", "scrub_gif", {"comment": b"made on a phone"}),
        ("WEBP", "scrub_webp", {"exif": exif.tobytes()}),
        ("TIFF", "scrub_tiff", {"exif": exif.tobytes()}),
    ):
        out = io.BytesIO()
        image.save(out, fmt, **extra)
        put(target, out.getvalue())
    put("scrub_wav", _wav())
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(72, 72))
    pdf.docinfo["/Author"] = "A. Correspondent"
    out = io.BytesIO()
    pdf.save(out)
    put("scrub_pdf", out.getvalue())
    for fmt, target in (("mp4", "scrub_mp4"), ("mov", "scrub_mov")):
        made = subprocess.run(  # noqa: S603 - fixed arguments
            [  # noqa: S607 - ffmpeg from PATH, as the scrubber itself runs it
                "ffmpeg",
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                "color=c=red:s=16x16:d=0.1",
                "-metadata",
                "location=+35.95+039.01/",
                "-f",
                fmt,
                "-movflags",
                "frag_keyframe",
                "pipe:1",
            ],
            capture_output=True,
            check=False,
        )
        if made.returncode == 0 and made.stdout:
            put(target, made.stdout)


def _wav() -> bytes:
    """A 16-bit mono WAV with a LIST/INFO chunk naming an artist (what the cleaner removes)."""
    fmt = (
        b"fmt "
        + (16).to_bytes(4, "little")
        + bytes.fromhex("01000100401f0000803e00000200")
        + (16).to_bytes(2, "little")
    )
    info = b"INFO" + b"IART" + (10).to_bytes(4, "little") + b"A. Person\0"
    chunks = fmt + b"LIST" + len(info).to_bytes(4, "little") + info
    chunks += b"data" + (64).to_bytes(4, "little") + bytes(64)
    return b"RIFF" + (4 + len(chunks)).to_bytes(4, "little") + b"WAVE" + chunks


def _png_info(kind: type[Any]) -> Any:
    info = kind()
    info.add_text("Author", "A. Correspondent")
    return info


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
