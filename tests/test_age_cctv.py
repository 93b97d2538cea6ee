"""The envelope's age reader against age's own test suite (C2SP CCTV, npm ``cctv-age``).

``make unit`` fetches the vectors (scripts/fetch-test-vectors.sh, version and
sha512 pinned) into .cache/cctv-age/testdata; nobody copies them by hand. Every
binary vector whose identities are all X25519 runs against
:class:`sijil.envelope.age.AgeReader`, and each expected outcome maps to the
error the reader must raise (the CCTV README's own aliasing):

- ``success``: no error, and the plaintext matches the vector's payload hash;
- ``header failure``: the header does not parse (MalformedEnvelope, or
  TruncatedEnvelope when it ends early);
- ``no match``: NotForThisRecipient;
- ``HMAC failure``: TamperedEnvelope;
- ``payload failure``: TamperedEnvelope or TruncatedEnvelope, and whatever
  plaintext the reader released first matches the payload hash.

When the vectors are missing the tests skip, except under ``CI=true``, where
they fail: a CI run must never pass without them.
"""

from __future__ import annotations

import hashlib
import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sijil.crypto import bech32
from sijil.envelope.age import AgeReader
from sijil.errors import (
    EnvelopeError,
    MalformedEnvelope,
    NotForThisRecipient,
    TamperedEnvelope,
    TruncatedEnvelope,
)

VECTORS = Path(__file__).resolve().parents[1] / ".cache" / "cctv-age" / "testdata"
# How many X25519 binary vectors cctv-age 0.2.0 holds: fewer means a broken fetch.
EXPECTED_X25519_VECTORS = 66
# A vector's header is a few hundred bytes; a larger one means the file is not a vector.
MAX_VECTOR_HEADER = 4096
READ_BLOCK = 64 * 1024

ALLOWED: dict[str, tuple[type[EnvelopeError], ...]] = {
    "header failure": (MalformedEnvelope, TruncatedEnvelope),
    "no match": (NotForThisRecipient,),
    "HMAC failure": (TamperedEnvelope,),
    "payload failure": (TamperedEnvelope, TruncatedEnvelope),
}


@dataclass(frozen=True)
class Vector:
    name: str
    expect: str
    payload: str | None
    identities: tuple[X25519PrivateKey, ...]
    age_file: bytes


def _parse(path: Path) -> Vector | None:
    """The vector in ``path``, or None when it is not a binary X25519 vector."""
    raw = path.read_bytes()
    head, sep, body = raw.partition(b"\n\n")
    assert sep and len(head) < MAX_VECTOR_HEADER, f"{path.name}: no vector header"
    fields: dict[str, list[str]] = {}
    for line in head.decode("utf-8").splitlines():
        key, colon, value = line.partition(": ")
        assert colon, f"{path.name}: bad header line {line!r}"
        fields.setdefault(key, []).append(value)
    identities = fields.get("identity", [])
    if (
        fields.get("armored") == ["yes"]
        or "passphrase" in fields
        or not identities
        or not all(i.startswith("AGE-SECRET-KEY-1") for i in identities)
    ):
        return None
    keys = []
    for identity in identities:
        hrp, secret = bech32.decode(identity)
        assert hrp == "age-secret-key-" and len(secret) == 32
        keys.append(X25519PrivateKey.from_private_bytes(secret))
    if fields.get("compressed") == ["zlib"]:
        body = zlib.decompress(body)
    return Vector(
        name=path.name,
        expect=fields["expect"][0],
        payload=fields.get("payload", [None])[0],
        identities=tuple(keys),
        age_file=body,
    )


def _vectors() -> list[Vector]:
    if not (VECTORS.is_dir() and any(VECTORS.iterdir())):
        return []
    found = (_parse(path) for path in sorted(VECTORS.iterdir()) if not path.name.startswith("."))
    return [vector for vector in found if vector is not None]


ALL = _vectors()


def _require_vectors() -> None:
    if ALL:
        return
    message = f"age test vectors missing from {VECTORS}: run scripts/fetch-test-vectors.sh"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _decrypt(vector: Vector) -> tuple[bytes, EnvelopeError | None]:
    """What the reader releases, and the error it ends with; each identity in turn."""
    failure: EnvelopeError | None = None
    for identity in vector.identities:
        released = bytearray()
        try:
            reader = AgeReader(io.BytesIO(vector.age_file), identity)
            while block := reader.read(READ_BLOCK):
                released += block
        except NotForThisRecipient as exc:
            failure = exc
            continue
        except EnvelopeError as exc:
            return bytes(released), exc
        return bytes(released), None
    return b"", failure


def test_every_x25519_vector_is_there() -> None:
    # Given the fetched CCTV vectors
    _require_vectors()
    # Then all the X25519 binary vectors of the pinned version were found
    assert len(ALL) == EXPECTED_X25519_VECTORS


@pytest.mark.parametrize("vector", ALL or [None], ids=[v.name for v in ALL] or ["missing"])
def test_the_reader_gives_the_expected_outcome(vector: Vector | None) -> None:
    _require_vectors()
    assert vector is not None
    # Given one of age's own test vectors
    # When the envelope's age reader decrypts it with the vector's identities
    released, error = _decrypt(vector)
    # Then the outcome is the one the vector expects
    if vector.expect == "success":
        assert error is None, f"{vector.name}: refused a valid file: {error}"
    else:
        assert error is not None, f"{vector.name}: accepted a file age rejects"
        allowed = ALLOWED[vector.expect]
        assert isinstance(error, allowed), f"{vector.name}: {type(error).__name__}: {error}"
    # And every byte released matches the payload hash
    if vector.expect in ("success", "payload failure"):
        assert hashlib.sha256(released).hexdigest() == vector.payload
