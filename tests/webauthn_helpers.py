"""A software security key: real WebAuthn answers, made with ``cryptography``, for py_webauthn.

``SoftKey`` holds an EC P-256 key pair and a credential id. ``create`` answers the
desk's registration options as a browser would after a key was touched: a
clientDataJSON (type, challenge, origin), an authenticatorData (SHA-256 of the
rp id, flags UP|UV|AT, the counter, the attested credential with its COSE key)
in a "none" or a "packed" (self-attestation) attestation object. ``get`` answers
sign-in options with a signature over authenticatorData and the clientDataJSON's
hash. Each may be told another origin, rp id or counter, to see the desk refuse.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["ORIGIN", "SoftKey", "b64url"]

ORIGIN = "http://localhost:8471"
_UP, _UV, _AT = 0x01, 0x04, 0x40
_AAGUID = bytes(16)  # "none" attestation: no model is claimed


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class SoftKey:
    """One credential on a software authenticator; ``counter`` counts its signatures."""

    def __init__(self, *, counter: int = 0) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(32)
        self.counter = counter

    @property
    def id(self) -> str:
        return b64url(self.credential_id)

    def _cose_key(self) -> bytes:
        numbers = self.private.public_key().public_numbers()
        x, y = numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big")
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: x, -3: y})  # EC2, ES256, P-256

    def _auth_data(self, rp_id: str, *, attested: bool) -> bytes:
        flags = _UP | _UV | (_AT if attested else 0)
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags])
        data += struct.pack(">I", self.counter)
        if attested:
            data += _AAGUID + struct.pack(">H", len(self.credential_id)) + self.credential_id
            data += self._cose_key()
        return data

    def _sign(self, auth_data: bytes, client_data: bytes) -> bytes:
        signed = auth_data + hashlib.sha256(client_data).digest()
        return self.private.sign(signed, ec.ECDSA(hashes.SHA256()))

    @staticmethod
    def _client_data(kind: str, options: dict[str, object], origin: str) -> bytes:
        body = {"type": kind, "challenge": options["challenge"], "origin": origin}
        return json.dumps({**body, "crossOrigin": False}).encode()

    def create(
        self,
        options_json: str,
        *,
        origin: str = ORIGIN,
        rp_id: str | None = None,
        packed: bool = False,
    ) -> str:
        """The answer to ``navigator.credentials.create`` with these options."""
        options = json.loads(options_json)
        client_data = self._client_data("webauthn.create", options, origin)
        auth_data = self._auth_data(rp_id or options["rp"]["id"], attested=True)
        statement = {"alg": -7, "sig": self._sign(auth_data, client_data)} if packed else {}
        attestation = cbor2.dumps(
            {"fmt": "packed" if packed else "none", "attStmt": statement, "authData": auth_data}
        )
        response = {"clientDataJSON": b64url(client_data), "attestationObject": b64url(attestation)}
        return self._credential(response)

    def get(
        self,
        options_json: str,
        *,
        origin: str = ORIGIN,
        rp_id: str | None = None,
        counter: int | None = None,
    ) -> str:
        """The answer to ``navigator.credentials.get``; the counter moves on unless given."""
        options = json.loads(options_json)
        self.counter = self.counter + 1 if counter is None else counter
        client_data = self._client_data("webauthn.get", options, origin)
        auth_data = self._auth_data(rp_id or options["rpId"], attested=False)
        response = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(self._sign(auth_data, client_data)),
        }
        return self._credential(response)

    def _credential(self, response: dict[str, str]) -> str:
        return json.dumps(
            {
                "id": self.id,
                "rawId": self.id,
                "type": "public-key",
                "response": response,
                "clientExtensionResults": {},
            }
        )
