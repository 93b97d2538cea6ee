"""Regenerate docs/envelope-vectors.json: fixed keys, a fixed manifest, one sealed envelope.

The manifest signature is deterministic (Ed25519); the sealed envelope is not
(age uses a fresh ephemeral key), so the envelope is generated once and kept.
Run only when the format changes: `.venv/bin/python scripts/make_vectors.py`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sijil.crypto.identity import (
    CorrespondentIdentity,
    DeskIdentity,
    age_identity_string,
    age_recipient_string,
)
from sijil.envelope.manifest import Location
from sijil.envelope.sealing import SIGN_CONTEXT, AttachmentSource, Draft, seal

OUT = Path(__file__).resolve().parents[1] / "docs" / "envelope-vectors.json"


def main() -> None:
    desk = DeskIdentity(
        age=X25519PrivateKey.from_private_bytes(bytes(range(32))),
        sign=Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64))),
    )
    sender = CorrespondentIdentity(
        sign=Ed25519PrivateKey.from_private_bytes(bytes(range(64, 96))),
        box=X25519PrivateKey.from_private_bytes(bytes(range(96, 128))),
    )
    attachment = "صورة من الرقة / photo bytes\n".encode() * 3
    draft = Draft(
        title="غارة قرب دوار الساعة",
        body="Airstrike near the clock roundabout, 03:10.\nغارة جوية قرب دوار الساعة.",
        lang="ar",
        location=Location(lat="35.9531", lon="39.0061", precision_m=500),
        created_at=datetime(2016, 11, 22, 3, 14, 15, tzinfo=UTC),
    )
    out = io.BytesIO()
    sealed = seal(
        draft,
        [AttachmentSource(name="attachment-1.jpg", media_type="image/jpeg",
                          stream=io.BytesIO(attachment))],
        sender=sender,
        desk=desk.public,
        out=out,
        enrol_token="ab" * 32,
    )
    manifest = sealed.manifest.to_bytes()
    vectors = {
        "comment": "Test vectors for docs/envelope.md; checked by tests/test_envelope_vectors.py",
        "desk_age_identity": age_identity_string(desk.age),
        "desk_age_recipient": age_recipient_string(desk.age.public_key()),
        "sender_sign_seed_hex": bytes(range(64, 96)).hex(),
        "manifest_utf8": manifest.decode(),
        "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
        "signature_hex": sender.sign.sign(SIGN_CONTEXT + manifest).hex(),
        "attachment_base64": base64.b64encode(attachment).decode(),
        "attachment_sha256": hashlib.sha256(attachment).hexdigest(),
        "envelope_base64": base64.b64encode(out.getvalue()).decode(),
        "envelope_id": sealed.envelope_id,
    }
    OUT.write_text(json.dumps(vectors, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
