"""Sealing and opening envelopes: round trips, age interop, and every way to break one."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envelope_helpers import open_bytes, raw_envelope, seal_bytes, sha, sign
from sijil.crypto.canonical import canonical_json
from sijil.crypto.identity import (
    CorrespondentIdentity,
    DeskIdentity,
    age_identity_string,
    b64,
    raw_public,
)
from sijil.envelope.age import CHUNK_SIZE, TAG_SIZE
from sijil.envelope.manifest import MAX_MANIFEST_BYTES, AttachmentEntry, Manifest
from sijil.errors import (
    AttachmentHashMismatch,
    BadSignature,
    EnvelopeError,
    MalformedEnvelope,
    ManifestTooLarge,
    NotForThisRecipient,
    TamperedEnvelope,
    TruncatedEnvelope,
    UnknownFormatVersion,
    UnsafeAttachmentName,
)

DESK = DeskIdentity.generate()
SENDER = CorrespondentIdentity.generate()
PHOTO = os.urandom(3000)


@pytest.fixture(scope="module")
def small_envelope() -> bytes:
    return seal_bytes(SENDER, DESK.public, {"attachment-1.jpg": PHOTO})


def test_round_trip_keeps_every_byte_and_the_sender(tmp_path: Path) -> None:
    # Given a report with three files, one empty and one spanning many age chunks
    files = {"a.jpg": PHOTO, "b.bin": b"", "c.mp4": os.urandom(3 * CHUNK_SIZE + 17)}
    data = seal_bytes(SENDER, DESK.public, files, title="قصف قرب الفرن", lang="ar")
    # When the desk opens it
    opened = open_bytes(data, DESK.age, tmp_path)
    # Then the manifest, the sender and every file are exactly what was sealed
    assert opened.manifest.title == "قصف قرب الفرن"
    assert raw_public(opened.sender) == raw_public(SENDER.sign.public_key())
    assert [a.entry.name for a in opened.attachments] == list(files)
    for item, content in zip(opened.attachments, files.values(), strict=True):
        assert item.path.read_bytes() == content
        assert item.entry.sha256 == sha(content)


def test_the_standard_age_tool_opens_a_sijil_envelope(
    tmp_path: Path, small_envelope: bytes
) -> None:
    # Given the desk's age identity in a file and a sealed envelope
    identity = tmp_path / "desk.age-identity"
    identity.write_text(age_identity_string(DESK.age) + "\n")
    sealed = tmp_path / "e.age"
    sealed.write_bytes(small_envelope)
    # When the Debian age tool decrypts it
    out = subprocess.run(["age", "-d", "-i", identity, sealed], capture_output=True, check=True)
    # Then the plaintext is the documented layout: format line, manifest, signature, files
    plain = out.stdout
    assert plain.startswith(b"SIJIL/1\n")
    length = int.from_bytes(plain[8:12], "big")
    manifest = json.loads(plain[12 : 12 + length])
    assert manifest["attachments"][0]["sha256"] == sha(PHOTO)
    assert plain[12 + length + 64 :] == PHOTO


def test_an_envelope_made_by_the_age_tool_for_the_desk_is_read_by_sijils_age_layer(
    tmp_path: Path,
) -> None:
    # Given plaintext sealed by the reference tool to the desk's recipient
    from sijil.crypto.identity import age_recipient_string
    from sijil.envelope.age import AgeReader

    data = os.urandom(CHUNK_SIZE * 2 + 5)
    recipient = age_recipient_string(DESK.age.public_key())
    sealed = subprocess.run(["age", "-r", recipient], input=data, capture_output=True, check=True)
    # When sijil's reader decrypts it, then it gets the same bytes
    import io

    assert AgeReader(io.BytesIO(sealed.stdout), DESK.age).read() == data


def test_another_desk_cannot_open_it(tmp_path: Path, small_envelope: bytes) -> None:
    other = DeskIdentity.generate()
    with pytest.raises(NotForThisRecipient):
        open_bytes(small_envelope, other.age, tmp_path)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_single_flipped_byte_is_refused(
    tmp_path: Path, small_envelope: bytes, data: st.DataObject
) -> None:
    # Given one byte of the envelope flipped anywhere, header or payload
    position = data.draw(st.integers(0, len(small_envelope) - 1))
    mask = data.draw(st.integers(1, 255))
    damaged = bytearray(small_envelope)
    damaged[position] ^= mask
    # When the desk opens it, then a typed envelope error says so and no file is left
    staging = tmp_path / f"s{position}-{mask}"
    with pytest.raises(EnvelopeError):
        open_bytes(bytes(damaged), DESK.age, staging)
    assert list(staging.iterdir()) == []


def test_a_flipped_payload_byte_reads_as_tampering(tmp_path: Path, small_envelope: bytes) -> None:
    damaged = bytearray(small_envelope)
    damaged[-5] ^= 1
    with pytest.raises(TamperedEnvelope):
        open_bytes(bytes(damaged), DESK.age, tmp_path)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(min_value=0))
def test_any_truncation_is_refused(tmp_path: Path, small_envelope: bytes, cut: int) -> None:
    short = small_envelope[: cut % len(small_envelope)]
    with pytest.raises(EnvelopeError):
        open_bytes(short, DESK.age, tmp_path / "s")


def test_a_cut_at_a_chunk_boundary_is_named_truncation(tmp_path: Path) -> None:
    # Given an envelope of three chunks cut right after its first full chunk
    data = seal_bytes(SENDER, DESK.public, {"v.mp4": os.urandom(2 * CHUNK_SIZE + 100)})
    header_len = data.index(b"\n", data.index(b"---")) + 1 + 16
    cut = data[: header_len + CHUNK_SIZE + TAG_SIZE]
    # Then it is reported as cut short, not as a forgery
    with pytest.raises(TruncatedEnvelope):
        open_bytes(cut, DESK.age, tmp_path)


def test_a_cut_inside_the_header_is_named_truncation(tmp_path: Path, small_envelope: bytes) -> None:
    with pytest.raises(TruncatedEnvelope):
        open_bytes(small_envelope[:40], DESK.age, tmp_path)


def _manifest(files: dict[str, bytes], **changes: object) -> bytes:
    doc = Manifest(
        nonce="00" * 16,
        created_at="2016-11-22T03:14:15Z",
        title="t",
        body="b",
        lang="en",
        location=None,
        attachments=tuple(
            AttachmentEntry(name=n, media_type="image/jpeg", size=len(d), sha256=sha(d))
            for n, d in files.items()
        ),
        sign_key=b64(raw_public(SENDER.sign.public_key())),
        reply_key=b64(raw_public(SENDER.box.public_key())),
    ).to_dict()
    doc.update(changes)
    return canonical_json(doc)


def test_a_signature_by_another_key_is_refused(tmp_path: Path) -> None:
    manifest = _manifest({"a.jpg": PHOTO})
    forged = CorrespondentIdentity.generate().sign.sign(b"sijil-manifest/1\x00" + manifest)
    data = raw_envelope(DESK.public, manifest, forged, PHOTO)
    with pytest.raises(BadSignature):
        open_bytes(data, DESK.age, tmp_path)


def test_an_attachment_that_differs_from_its_hash_is_refused(tmp_path: Path) -> None:
    manifest = _manifest({"a.jpg": PHOTO})
    swapped = bytes(reversed(PHOTO))
    data = raw_envelope(DESK.public, manifest, sign(SENDER, manifest), swapped)
    with pytest.raises(AttachmentHashMismatch):
        open_bytes(data, DESK.age, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_format_version_is_named(tmp_path: Path) -> None:
    manifest = _manifest({})
    data = raw_envelope(DESK.public, manifest, sign(SENDER, manifest), format_line=b"SIJIL/2\n")
    with pytest.raises(UnknownFormatVersion, match="'2'"):
        open_bytes(data, DESK.age, tmp_path)


def test_an_unknown_manifest_version_is_named(tmp_path: Path) -> None:
    manifest = _manifest({}, v=7)
    data = raw_envelope(DESK.public, manifest, sign(SENDER, manifest))
    with pytest.raises(UnknownFormatVersion):
        open_bytes(data, DESK.age, tmp_path)


def test_an_oversize_manifest_is_refused_before_it_is_read(tmp_path: Path) -> None:
    data = raw_envelope(DESK.public, b"{}", b"\0" * 64, length=MAX_MANIFEST_BYTES + 1)
    with pytest.raises(ManifestTooLarge):
        open_bytes(data, DESK.age, tmp_path)


def test_sealing_an_oversize_report_is_refused() -> None:
    with pytest.raises(ManifestTooLarge):
        seal_bytes(SENDER, DESK.public, body="x" * (MAX_MANIFEST_BYTES + 1))


@pytest.mark.parametrize(
    "name", ["../evil.jpg", "a/b.jpg", "..", ".hidden", "a\\b.jpg", "gpj\u202e.exe", "x\ny", ""]
)
def test_unsafe_attachment_names_are_refused_when_sealing(name: str) -> None:
    with pytest.raises(UnsafeAttachmentName):
        seal_bytes(SENDER, DESK.public, {name: b"x"})


@pytest.mark.parametrize("name", ["../../etc/passwd", "dir/photo.jpg", ".."])
def test_unsafe_attachment_names_are_refused_when_opening(tmp_path: Path, name: str) -> None:
    # Given a validly signed manifest whose name was crafted past the sealing checks
    doc = json.loads(_manifest({"a.jpg": b"x"}))
    doc["attachments"][0]["name"] = name
    manifest = canonical_json(doc)
    data = raw_envelope(DESK.public, manifest, sign(SENDER, manifest), b"x")
    with pytest.raises(UnsafeAttachmentName):
        open_bytes(data, DESK.age, tmp_path)


def test_a_non_canonical_manifest_is_refused(tmp_path: Path) -> None:
    manifest = json.dumps(json.loads(_manifest({})), indent=2).encode()
    data = raw_envelope(DESK.public, manifest, sign(SENDER, manifest))
    with pytest.raises(MalformedEnvelope, match="canonical"):
        open_bytes(data, DESK.age, tmp_path)


def test_data_after_the_last_attachment_is_refused(tmp_path: Path) -> None:
    manifest = _manifest({"a.jpg": b"x"})
    data = raw_envelope(DESK.public, manifest, sign(SENDER, manifest), b"x" + b"smuggled")
    with pytest.raises(MalformedEnvelope, match="after its last"):
        open_bytes(data, DESK.age, tmp_path)


def test_garbage_is_not_an_envelope(tmp_path: Path) -> None:
    with pytest.raises(MalformedEnvelope):
        open_bytes(b"PK\x03\x04 not an envelope", DESK.age, tmp_path)


# a title is one line: no control character, no line separator; a body keeps \n and \t
_LINE = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=200)
_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\n\t"), max_size=200
)


@settings(max_examples=200)
@given(title=_LINE.filter(str.strip), body=_TEXT, lang=st.sampled_from(["ar", "en"]))
def test_manifest_codec_round_trips(title: str, body: str, lang: str) -> None:
    manifest = Manifest(
        nonce="ab" * 16,
        created_at="2016-11-22T03:14:15Z",
        title=title,
        body=body,
        lang=lang,
        location=None,
        attachments=(),
        sign_key=b64(raw_public(SENDER.sign.public_key())),
        reply_key=b64(raw_public(SENDER.box.public_key())),
    )
    assert Manifest.from_bytes(manifest.to_bytes()) == manifest


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_manifest_parser_only_raises_envelope_errors(blob: bytes) -> None:
    try:
        Manifest.from_bytes(blob)
    except EnvelopeError:
        pass


@settings(max_examples=200)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**53 - 1), 2**53 - 1) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(max_codepoint=127), max_size=8), inner, max_size=4),
        max_leaves=20,
    )
)
def test_canonical_json_is_stable_and_parseable(value: object) -> None:
    encoded = canonical_json(value)
    assert canonical_json(json.loads(encoded)) == encoded


@pytest.mark.slow
def test_sealing_and_opening_stream_in_bounded_memory(tmp_path: Path) -> None:
    # Given a 300 MB attachment (sparse, so the test writes nothing large)
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(300 * 1024 * 1024)
    script = f"""
import sys
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).parent)!r})
from envelope_helpers import *
from sijil.crypto.identity import CorrespondentIdentity, DeskIdentity
from sijil.envelope.sealing import AttachmentSource, Draft, seal, open_envelope
desk, sender = DeskIdentity.generate(), CorrespondentIdentity.generate()
tmp = Path({str(tmp_path)!r})
with open(tmp / "big.bin", "rb") as src, open(tmp / "e.age", "wb") as out:
    seal(Draft(title="t", body="", lang="en"),
         [AttachmentSource(name="v.mp4", media_type="video/mp4", stream=src)],
         sender=sender, desk=desk.public, out=out)
with open(tmp / "e.age", "rb") as src:
    opened = open_envelope(src, identity=desk.age, staging=tmp)
assert opened.attachments[0].entry.size == 300 * 1024 * 1024
# VmHWM belongs to this process image; ru_maxrss could carry the forking parent's peak
print(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")))
"""
    # When a fresh process seals and opens it
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    # Then its peak memory stays far below the attachment's size
    peak_mib = int(done.stdout.strip()) / 1024
    assert peak_mib < 120, f"peak RSS {peak_mib:.0f} MiB"


def test_signature_covers_a_domain_separated_message() -> None:
    # A manifest signature must not be reusable as a signature over the bare JSON
    manifest = _manifest({})
    signature = sign(SENDER, manifest)
    from cryptography.exceptions import InvalidSignature

    with pytest.raises(InvalidSignature):
        SENDER.sign.public_key().verify(signature, manifest)
    assert base64.b64encode(signature)


@pytest.mark.parametrize(
    "change",
    [
        {"report": {"extra": "ab"}},
        {"report": {"extra": {"ключ": "v"}}},
        {"report": {"extra": {"k": 5}}},
        {"report": {"title": "\ud800"}},
        {"sender": {"reply_key": "AAAA"}},
        {"sender": {"sign_key": "not base64!"}},
        {"created_at": "0001-01-01T00:00:00+14:00"},
        {"created_at": "9999-12-31T23:59:59-14:00"},
    ],
    ids=lambda c: next(iter(c))
    + ":"
    + str(
        next(iter(next(iter(c.values())).values()))
        if isinstance(next(iter(c.values())), dict)
        else next(iter(c.values()))
    )[:12],
)
def test_hostile_manifest_fields_are_malformed_envelopes_not_crashes(
    tmp_path: Path, change: dict[str, object]
) -> None:
    # Given a manifest a hostile sender crafted, validly signed by their own key
    doc = json.loads(_manifest({}))
    for key, value in change.items():
        if isinstance(value, dict):
            doc[key].update(value)
        else:
            doc[key] = value
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    manifest = text.encode("utf-8", "surrogatepass")
    data = raw_envelope(DESK.public, manifest, sign(SENDER, manifest))
    # When the desk opens it, then it is a typed envelope error, never anything else
    with pytest.raises(EnvelopeError):
        open_bytes(data, DESK.age, tmp_path)


def test_an_escaped_lone_surrogate_is_a_malformed_envelope(tmp_path: Path) -> None:
    manifest = _manifest({}).replace(b'"title":"t"', b'"title":"\\ud800"')
    assert b"\\ud800" in manifest
    data = raw_envelope(DESK.public, manifest, sign(SENDER, manifest))
    with pytest.raises(MalformedEnvelope):
        open_bytes(data, DESK.age, tmp_path)
