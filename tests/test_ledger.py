"""The custody ledger: RFC 9162 hashing and proofs, store-backed appends, signed heads."""

from __future__ import annotations

import hashlib
import http.client
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from sijil.errors import LedgerError, TimestampError
from sijil.export import verifier
from sijil.ledger import log, merkle
from sijil.ledger.entries import EntryKind, NewEntry, parse_entry
from sijil.ledger.heads import HEAD_INTERVAL, SignedHead, head_due, issue_head
from sijil.ledger.timestamp import TsaConfig, request_timestamp, verify_token
from sijil.store import Store, utcnow
from tsa_helpers import local_authority


def _mth(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 section 2.1.1, written out recursively as the reference."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _reader(leaves: Sequence[bytes]) -> merkle.NodeReader:
    return lambda keys: [_mth(leaves[i << lv : (i + 1) << lv]) for lv, i in keys]


def test_known_roots() -> None:
    # the empty tree and a one-leaf tree, as RFC 9162 defines them
    assert _mth([]).hex().startswith("e3b0c44298fc1c14")
    assert merkle.root_from_peaks([]) == _mth([])
    assert merkle.root_from_peaks([merkle.leaf_hash(b"")]).hex().startswith("6e340b9cffb37a98")


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 140), data=st.data())
def test_inclusion_proofs_verify_and_reject_other_leaves(size: int, data: st.DataObject) -> None:
    leaves = [f"entry {i}".encode() for i in range(size)]
    index = data.draw(st.integers(0, size - 1))
    root = _mth(leaves)
    proof = merkle.inclusion_proof(index, size, _reader(leaves))
    assert merkle.verify_inclusion(merkle.leaf_hash(leaves[index]), index, size, proof, root)
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"forged"), index, size, proof, root)
    if size > 1:
        other = (index + 1) % size
        assert not merkle.verify_inclusion(
            merkle.leaf_hash(leaves[index]), other, size, proof, root
        )


@settings(max_examples=60, deadline=None)
@given(new=st.integers(1, 140), data=st.data())
def test_consistency_proofs_verify_and_reject_a_rewritten_past(
    new: int, data: st.DataObject
) -> None:
    old = data.draw(st.integers(1, new))
    leaves = [f"entry {i}".encode() for i in range(new)]
    proof = merkle.consistency_proof(old, new, _reader(leaves))
    assert merkle.verify_consistency(old, new, _mth(leaves[:old]), _mth(leaves), proof)
    rewritten = [b"changed", *leaves[1:]]
    assert not merkle.verify_consistency(old, new, _mth(rewritten[:old]), _mth(leaves), proof)


def test_proof_sizes_are_logarithmic() -> None:
    size = 1_000_003
    assert len(merkle.inclusion_proof(12345, size, lambda keys: [b"\x00" * 32] * len(keys))) <= 20
    needed = sum(len(keys) for keys in merkle.inclusion_nodes(size - 1, size))
    assert needed <= 2 * size.bit_length()


def _entries(count: int, tag: str = "x") -> list[NewEntry]:
    return [
        NewEntry(kind=EntryKind.USER_ACTION, subject=f"{tag}{i}", data={"n": i})
        for i in range(count)
    ]


def test_grouped_appends_match_the_reference_tree(store: Store) -> None:
    # Given entries appended in groups of uneven sizes, in separate transactions
    for group in (1, 2, 5, 8, 1, 30, 17):
        with store.session(write=True) as session:
            log.append(session, _entries(group))
    # When the stored nodes answer root and proof queries
    with store.session() as session:
        conn = session.connection()
        bodies = [
            row[0].encode()
            for row in conn.exec_driver_sql("SELECT body FROM ledger_entries ORDER BY seq")
        ]
        assert len(bodies) == log.size(session) == 64
        for size in (1, 3, 33, 63, 64):
            assert log.root_at(conn, size) == _mth(bodies[:size])
        proof = log.inclusion_proof(conn, 41, 64)
        assert merkle.verify_inclusion(
            merkle.leaf_hash(bodies[41]), 41, 64, proof.path, _mth(bodies)
        )
        cons = log.consistency_proof(conn, 13, 64)
        assert merkle.verify_consistency(13, 64, _mth(bodies[:13]), _mth(bodies), cons)
        with pytest.raises(LedgerError):
            log.inclusion_proof(conn, 64, 64)
    # Then every entry is canonical JSON that names its own position
    assert [parse_entry(b).seq for b in bodies] == list(range(64))


def test_a_rolled_back_transaction_leaves_no_entry(store: Store) -> None:
    with pytest.raises(RuntimeError), store.session(write=True) as session:
        log.append(session, _entries(3))
        raise RuntimeError("the records failed")
    with store.session() as session:
        assert log.size(session) == 0


def test_signed_heads_verify_and_follow_the_schedule(store: Store) -> None:
    key = Ed25519PrivateKey.generate()
    with store.session(write=True) as session:
        assert not head_due(session, now=utcnow())  # nothing to sign yet
        log.append(session, _entries(5))
        assert head_due(session, now=utcnow())
        row, signed = issue_head(session, key)
    head = signed.verify(key.public_key())
    assert head.tree_size == 5 and head.root_hash.hex() == row.root_hash
    with store.session(write=True) as session:
        assert not head_due(session, now=utcnow())  # fresh head covers everything
        log.append(session, _entries(1))
        assert not head_due(session, now=utcnow())  # grew, but the head is not stale yet
        assert head_due(session, now=utcnow() + HEAD_INTERVAL)
    forged = SignedHead(
        body=signed.body.replace(b'"tree_size":5', b'"tree_size":4'), signature=signed.signature
    )
    with pytest.raises(LedgerError):
        forged.verify(key.public_key())
    with pytest.raises(LedgerError, match="another desk"):
        signed.verify(Ed25519PrivateKey.generate().public_key())


def test_entry_kinds_are_the_strings_every_ledger_was_written_with() -> None:
    # Given the kinds as they appear in entries already written, by any version
    written = [
        "envelope.received",
        "envelope.opened",
        "item.registered",
        "input.quarantined",
        "input.released",
        "derivative.made",
        "media.matched",
        "assessment.changed",
        "published",
        "exported",
        "user.action",
    ]
    # Then each is still a kind, by the same string, and a plain string still names it
    assert all(EntryKind(value).value == value for value in written)
    assert NewEntry(kind="media.matched", subject="s").kind is EntryKind.MEDIA_MATCHED


def test_entries_refuse_unknown_kinds_and_non_canonical_bytes() -> None:
    with pytest.raises(ValueError, match="unknown ledger entry kind"):
        NewEntry(kind="deleted", subject="x")
    with pytest.raises(LedgerError, match="unknown kind"):
        parse_entry(b'{"at":"t","data":{},"kind":"deleted","seq":0,"subject":"s","v":1}')
    with pytest.raises(LedgerError, match="canonical"):
        parse_entry(b'{"v":1, "seq":0,"kind":"user.action","at":"t","subject":"s","data":{}}')
    with pytest.raises(LedgerError):
        parse_entry(b"\xff not json")


@settings(max_examples=80, deadline=None)
@given(
    data=st.recursive(
        st.none() | st.booleans() | st.integers(-(2**53 - 1), 2**53 - 1) | st.text(),
        lambda inner: st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.characters(max_codepoint=127), max_size=8), inner, max_size=4
        ),
        max_leaves=12,
    ),
    subject=st.text(min_size=1, max_size=64),
    seq=st.integers(0, 2**53 - 1),
)
def test_entry_bytes_are_rfc8785_canonical_json(data: object, subject: str, seq: int) -> None:
    from datetime import UTC, datetime

    from sijil.crypto.canonical import canonical_json
    from sijil.ledger.entries import encode_entry, format_time

    at = datetime(2026, 11, 22, 3, 4, 5, 678901, tzinfo=UTC)
    entry = NewEntry(kind=EntryKind.USER_ACTION, subject=subject, data={"x": data})
    expected = canonical_json(
        {
            "v": 1,
            "seq": seq,
            "kind": "user.action",
            "at": format_time(at),
            "subject": subject,
            "data": {"x": data},
        }
    )
    assert encode_entry(seq, entry, at) == expected
    assert parse_entry(expected).data == {"x": data}


def test_floats_are_refused_in_entries() -> None:
    from datetime import UTC, datetime

    from sijil.ledger.entries import encode_entry

    with pytest.raises(ValueError, match="float-free"):
        encode_entry(
            0,
            NewEntry(kind=EntryKind.USER_ACTION, subject="s", data={"a": [1.5]}),
            datetime.now(UTC),
        )


def test_appended_entries_read_back_through_the_models(store: Store) -> None:
    from datetime import UTC, datetime

    from sijil.store import LedgerEntry

    when = datetime(2026, 11, 22, 1, 2, 3, 456789, tzinfo=UTC)
    with store.session(write=True) as session:
        log.append(session, _entries(2), at=when)
    with store.session() as session:
        rows = session.query(LedgerEntry).order_by(LedgerEntry.seq).all()
    assert [(r.seq, r.recorded_at, r.subject) for r in rows] == [(0, when, "x0"), (1, when, "x1")]
    assert parse_entry(rows[1].body.encode()).at == "2026-11-22T01:02:03.456789Z"


# --- the package verifier's own copy of RFC 9162 --------------------------------------


def _mutations(proof: list[bytes], index: int, size: int) -> list[tuple[list[bytes], int, int]]:
    """The proof bent in the ways a forger could bend it: each element flipped, cut, padded,
    moved to another leaf or to another tree size."""
    bent = [(proof[:-1], index, size), ([*proof, bytes(32)], index, size)]
    for i in range(len(proof)):
        flipped = bytes([proof[i][0] ^ 1]) + proof[i][1:]
        bent.append(([*proof[:i], flipped, *proof[i + 1 :]], index, size))
    bent += [(proof, (index + 1) % size, size), (proof, index, size + 1), (proof, index, size - 1)]
    return bent


@settings(max_examples=150, deadline=None)
@given(
    leaves=st.lists(st.binary(max_size=48), min_size=1, max_size=300),
    pair=st.tuples(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32)),
    data=st.data(),
)
def test_the_package_verifiers_rfc9162_copy_agrees_with_the_ledgers(
    leaves: list[bytes], pair: tuple[bytes, bytes], data: st.DataObject
) -> None:
    # Given a random tree of random entries, and its root as RFC 9162 defines it
    size = len(leaves)
    root = _mth(leaves)
    # Then leaf and node hashes are the same in both copies
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    assert [verifier.leaf_hash(leaf) for leaf in leaves] == hashes == merkle.leaf_hashes(leaves)
    assert verifier.node_hash(*pair) == merkle.node_hash(*pair)
    assert merkle.parent_hashes(hashes) == [
        merkle.node_hash(a, b) for a, b in zip(hashes[0::2], hashes[1::2], strict=False)
    ]
    # and the root the ledger folds from its stored subtrees is the reference root
    assert merkle.root_from_peaks(_reader(leaves)(merkle.root_nodes(size))) == root
    # When the ledger proves a leaf
    index = data.draw(st.integers(0, size - 1))
    proof = merkle.inclusion_proof(index, size, _reader(leaves))
    # Then the verifier's copy recomputes the same root from it
    assert verifier.verify_inclusion(hashes[index], index, size, proof, root)
    assert merkle.verify_inclusion(hashes[index], index, size, proof, root)
    # and both copies give the same answer for every bent proof, leaf, root and size
    for path, at, claimed in _mutations(proof, index, size):
        for leaf, head in ((hashes[index], root), (merkle.leaf_hash(b"forged"), root)):
            want = merkle.verify_inclusion(leaf, at, claimed, path, head)
            assert verifier.verify_inclusion(leaf, at, claimed, path, head) == want
    assert not verifier.verify_inclusion(hashes[index], index, size, proof, bytes(32))
    # and the consistency proof to any earlier size verifies against the reference roots
    old = data.draw(st.integers(1, size))
    between = merkle.consistency_proof(old, size, _reader(leaves))
    assert merkle.verify_consistency(old, size, _mth(leaves[:old]), root, between)


# --- timestamps: failures of openssl and of the authority are TimestampErrors ----------


def test_an_openssl_that_does_not_finish_in_time_is_a_timestamp_error(tmp_path: Path) -> None:
    # Given a real token for a head from a local authority, which verifies
    with local_authority(tmp_path / "tsa") as authority:
        config = TsaConfig(url=authority.url, ca_pem=authority.ca_file.read_bytes())
        token = request_timestamp(config, b"a tree head")
    verify_token(token, b"a tree head", config.ca_pem)
    # When openssl is given less time than it takes to start
    with pytest.raises(TimestampError, match="did not finish") as caught:
        verify_token(token, b"a tree head", config.ca_pem, timeout=1e-6)
    # Then the timeout is a TimestampError (which the audit reports by head), not a crash
    assert isinstance(caught.value.__cause__, subprocess.TimeoutExpired)


@contextmanager
def _answering(reply: bytes) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that reads each request whole and answers ``reply`` raw."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/tsa"
    finally:
        server.shutdown()
        server.server_close()


def test_an_authority_that_does_not_speak_http_is_a_timestamp_error() -> None:
    # Given an "authority" whose answer is not HTTP at all
    with _answering(b"not an http reply\r\n\r\n") as url:
        config = TsaConfig(url=url, ca_pem=b"-----BEGIN CERTIFICATE-----\nunused\n")
        # When the desk asks it for a timestamp
        with pytest.raises(TimestampError, match="did not answer") as caught:
            request_timestamp(config, b"a tree head")
    # Then it is a TimestampError, as for an authority that is down
    assert isinstance(caught.value.__cause__, http.client.HTTPException)
