"""The test vectors published in docs/envelope-vectors.json stay true."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sijil.crypto import bech32
from sijil.crypto.identity import DeskIdentity
from sijil.envelope.sealing import SIGN_CONTEXT, open_envelope

DOCS = Path(__file__).resolve().parents[1] / "docs"
VECTORS = json.loads((DOCS / "envelope-vectors.json").read_text(encoding="utf-8"))


def _desk_age_key() -> X25519PrivateKey:
    hrp, raw = bech32.decode(VECTORS["desk_age_identity"])
    assert hrp == "age-secret-key-"
    return X25519PrivateKey.from_private_bytes(raw)


def test_the_vector_envelope_opens_to_the_published_manifest(tmp_path: Path) -> None:
    envelope = base64.b64decode(VECTORS["envelope_base64"])
    assert hashlib.sha256(envelope).hexdigest() == VECTORS["envelope_id"]
    opened = open_envelope(io.BytesIO(envelope), identity=_desk_age_key(), staging=tmp_path)
    assert opened.manifest_bytes.decode() == VECTORS["manifest_utf8"]
    assert opened.signature.hex() == VECTORS["signature_hex"]
    assert opened.attachments[0].path.read_bytes() == base64.b64decode(VECTORS["attachment_base64"])


def test_the_signature_is_reproducible_from_the_published_seed() -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(VECTORS["sender_sign_seed_hex"]))
    manifest = VECTORS["manifest_utf8"].encode()
    assert key.sign(SIGN_CONTEXT + manifest).hex() == VECTORS["signature_hex"]
    assert hashlib.sha256(manifest).hexdigest() == VECTORS["manifest_sha256"]


def test_the_vector_opens_with_the_age_tool(tmp_path: Path) -> None:
    identity = tmp_path / "id"
    identity.write_text(VECTORS["desk_age_identity"] + "\n")
    sealed = tmp_path / "v.age"
    sealed.write_bytes(base64.b64decode(VECTORS["envelope_base64"]))
    plain = subprocess.run(["age", "-d", "-i", identity, sealed], capture_output=True, check=True)
    assert plain.stdout.startswith(b"SIJIL/1\n")
    assert VECTORS["manifest_utf8"].encode() in plain.stdout


def test_the_age_recipient_matches_age_keygen(tmp_path: Path) -> None:
    identity = tmp_path / "id"
    identity.write_text(VECTORS["desk_age_identity"] + "\n")
    out = subprocess.run(["age-keygen", "-y", identity], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == VECTORS["desk_age_recipient"]
    ours = DeskIdentity(age=_desk_age_key(), sign=Ed25519PrivateKey.generate())
    from sijil.crypto.identity import age_recipient_string

    assert age_recipient_string(ours.age.public_key()) == VECTORS["desk_age_recipient"]


def test_the_spec_cites_the_vectors() -> None:
    spec = (DOCS / "envelope.md").read_text(encoding="utf-8")
    assert VECTORS["envelope_id"] in spec
    assert VECTORS["signature_hex"] in spec
    assert VECTORS["desk_age_recipient"] in spec
