"""Identities, key files, fingerprints and the age key encodings."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sijil.crypto import bech32
from sijil.crypto.identity import (
    CorrespondentIdentity,
    DeskIdentity,
    DeskPublic,
    age_identity_string,
    age_recipient_string,
    fingerprint,
    parse_age_recipient,
)
from sijil.crypto.kdf import KdfParams
from sijil.errors import KeyFileError, PassphraseError


def test_a_locked_desk_key_unlocks_only_with_its_passphrase(fast_kdf: KdfParams) -> None:
    # Given a desk key locked under a passphrase
    desk = DeskIdentity.generate()
    locked = desk.lock("the right one", fast_kdf)
    # Then the file holds no private key material in the clear
    assert age_identity_string(desk.age).encode() not in locked
    # And the right passphrase gives the same keys back, a wrong one is refused
    assert (
        DeskIdentity.unlock(locked, "the right one").public.fingerprint == desk.public.fingerprint
    )
    with pytest.raises(PassphraseError):
        DeskIdentity.unlock(locked, "the wrong one")


def test_a_key_file_with_tampered_kdf_parameters_is_refused(fast_kdf: KdfParams) -> None:
    doc = json.loads(DeskIdentity.generate().lock("pw", fast_kdf))
    doc["kdf"]["log_n"] = 11  # an attacker lowering (or changing) the cost
    with pytest.raises(PassphraseError):
        DeskIdentity.unlock(json.dumps(doc).encode(), "pw")


def test_a_key_file_asking_for_absurd_memory_is_refused_before_deriving(
    fast_kdf: KdfParams,
) -> None:
    doc = json.loads(DeskIdentity.generate().lock("pw", fast_kdf))
    doc["kdf"]["log_n"] = 40
    with pytest.raises(KeyFileError, match="safe range"):
        DeskIdentity.unlock(json.dumps(doc).encode(), "pw")


def test_a_correspondent_key_is_not_a_desk_key(fast_kdf: KdfParams) -> None:
    locked = CorrespondentIdentity.generate().lock("pw", fast_kdf)
    with pytest.raises(KeyFileError, match="not a desk key"):
        DeskIdentity.unlock(locked, "pw")


@pytest.mark.parametrize("junk", [b"", b"{}", b"not json", b'{"format": "sijil-key/9"}'])
def test_junk_is_not_a_key_file(junk: bytes) -> None:
    with pytest.raises(KeyFileError):
        DeskIdentity.unlock(junk, "pw")


def test_an_empty_passphrase_is_refused(fast_kdf: KdfParams) -> None:
    with pytest.raises(PassphraseError):
        DeskIdentity.generate().lock("", fast_kdf)


def test_the_default_kdf_is_memory_hard() -> None:
    # 2**17 * 8 * 128 bytes = 128 MiB per guess
    default = KdfParams()
    assert (1 << default.log_n) * default.r * 128 >= 128 * 1024 * 1024


def test_fingerprints_are_six_groups_of_five_digits_and_differ_per_key() -> None:
    a, b = DeskIdentity.generate().public, DeskIdentity.generate().public
    groups = a.fingerprint.split(" ")
    assert len(groups) == 6
    assert all(len(g) == 5 and g.isdigit() for g in groups)
    assert a.fingerprint != b.fingerprint
    assert fingerprint(b"x") == fingerprint(b"x")


def test_desk_public_file_round_trips_and_detects_a_wrong_fingerprint() -> None:
    public = DeskIdentity.generate().public
    assert DeskPublic.from_bytes(public.to_bytes()).fingerprint == public.fingerprint
    doc = json.loads(public.to_bytes())
    doc["fingerprint"] = "00000 00000 00000 00000 00000 00000"
    with pytest.raises(KeyFileError, match="fingerprint"):
        DeskPublic.from_bytes(json.dumps(doc).encode())


def test_age_strings_agree_with_age_keygen(tmp_path: Path) -> None:
    # Given a key written as an age identity by sijil
    key = DeskIdentity.generate().age
    path = tmp_path / "id"
    path.write_text(age_identity_string(key) + "\n")
    # When age-keygen derives its recipient, then it is the one sijil computes
    out = subprocess.run(["age-keygen", "-y", path], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == age_recipient_string(key.public_key())
    assert parse_age_recipient(out.stdout.strip()) is not None


def test_keys_made_by_age_keygen_parse(tmp_path: Path) -> None:
    path = tmp_path / "k"
    subprocess.run(["age-keygen", "-o", path], capture_output=True, check=True)
    secret = next(line for line in path.read_text().splitlines() if line.startswith("AGE-SECRET"))
    hrp, raw = bech32.decode(secret)
    assert hrp == "age-secret-key-" and len(raw) == 32


@settings(max_examples=200)
@given(st.binary(max_size=64), st.sampled_from(["age", "age-secret-key-", "x"]))
def test_bech32_round_trips(data: bytes, hrp: str) -> None:
    assert bech32.decode(bech32.encode(hrp, data)) == (hrp, data)


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_bech32_decoder_only_raises_value_error(text: str) -> None:
    try:
        bech32.decode(text)
    except ValueError:
        pass


def test_a_recipient_with_a_typo_is_refused() -> None:
    good = age_recipient_string(DeskIdentity.generate().age.public_key())
    typo = good[:-1] + ("q" if good[-1] != "q" else "p")
    with pytest.raises(KeyFileError):
        parse_age_recipient(typo)


def test_a_key_file_asking_for_too_much_memory_in_total_is_refused(fast_kdf: KdfParams) -> None:
    # each factor alone is in range; together they ask for 4 GiB
    doc = json.loads(DeskIdentity.generate().lock("pw", fast_kdf))
    doc["kdf"]["log_n"], doc["kdf"]["r"] = 20, 32
    with pytest.raises(KeyFileError, match="safe range"):
        DeskIdentity.unlock(json.dumps(doc).encode(), "pw")
