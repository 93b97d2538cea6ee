"""Standalone verifier of sijil evidence packages; needs Python 3.11+ and ``cryptography``.

An investigator runs it without sijil:
``python3 verify_package.py PACKAGE.zip --desk-key desk.pub`` (a copy ships inside
every package; docs/package.md says how to check it is this file). It imports
nothing from sijil on purpose. It checks the BagIt manifests, the desk's
Ed25519 signature on the tree head, every entry's RFC 9162 inclusion proof, that
every payload file is one the proven entries account for (paths derived from the
ledger, never taken from evidence.json alone) and hashes to what they recorded,
that each exported field matches its ledger digest, and, given the authority's
root (``--tsa-ca``) and ``openssl``, the RFC 3161 timestamp.

It keeps its own copies of what sijil defines elsewhere (RFC 9162 hashing, canonical
JSON, the exported report fields, the entry kinds it reads); sijil's test suite
holds each copy to the original. Whatever goes wrong, it prints one line per
problem and exits non-zero, never a traceback. It reads only regular files (a
link, a FIFO or a device given as the package or a key is refused unread), never
past a named size, and refuses encrypted zip members and compression methods
sijil does not write.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["EXPORTED_FIELDS", "VerifyReport", "main", "verify_package"]

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
# A package larger than this, or with more files, is not one sijil made: a case
# of a few hundred reports, each with a handful of photos or a few videos (the
# scrubber takes videos up to a few GiB), stays well under 64 GiB; a zip bomb
# claiming more is refused before anything is inflated.
MAX_FILES = 100_000
MAX_TOTAL = 64 << 30
# The zip itself: its members' data plus local headers and the central directory,
# which for MAX_FILES members take far less than the 1 GiB of room allowed here
MAX_PACKAGE = MAX_TOTAL + (1 << 30)
# desk.pub and a timestamp authority's root are a few KB; anything larger is not one
MAX_KEY_FILE = 1 << 20
# sijil writes members stored or deflated, never encrypted (flag bit 0)
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_ENCRYPTED = 0x1
# Inputs are opened without following a link in the last component and without
# blocking (a FIFO with no writer would hang the open); Windows has neither flag
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_BINARY", 0)
)
# A regular file's mode in a zip's external attributes (Unix high 16 bits)
_S_IFMT, _S_IFLNK = 0o170000, 0o120000
# evidence.json, entries and proofs: a few MB even for thousands of reports
MAX_METADATA = 256 << 20
# ``openssl ts -verify`` takes milliseconds; one that has not finished in this long
# is stuck, and the timestamp is reported as not verified
OPENSSL_TIMEOUT_S = 60.0
# The report fields a package carries, each digested in its "item.registered" entry
# (sijil.desk.records.EXPORTED_FIELDS; the test suite checks the two agree).
EXPORTED_FIELDS = (
    "title",
    "body",
    "lang",
    "created_at",
    "latitude",
    "longitude",
    "location_precision_m",
)
# The entry kinds read here (sijil.ledger.entries.EntryKind's values)
_RECEIVED, _REGISTERED, _EXPORTED = "envelope.received", "item.registered", "exported"
_USER_ACTION, _ASSESSMENT = "user.action", "assessment.changed"
_KEY_ROTATED = "key.rotated"
# A key handover (sijil.crypto.handover): the statement's fields, signed by the old
# and the new key over HANDOVER_CONTEXT || its canonical JSON
HANDOVER_FORMAT = "sijil-key-handover/1"
HANDOVER_CONTEXT = b"sijil-key-handover/1\x00"
HANDOVER_STATEMENT = (
    "format",
    "old_sign_key",
    "new_sign_key",
    "new_age_recipient",
    "at",
    "tree_size",
    "root_hash",
)
# data.action of the desk's entries (sijil.desk.desk_records.Action's values)
_CREATED, _EDITED, _LINKED = "incident.created", "incident.edited", "evidence.linked"
_ATTRIBUTED, _PROPOSED = "incident.attributed", "assessment.proposed"
_REVIEWED = ("assessment.approved", "assessment.changes_requested")
# the mark an assessment its author confirmed alone carries (sijil.desk.assessments)
NOT_INDEPENDENT = "not independently reviewed"


@dataclass
class VerifyReport:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _digest(value: Any) -> str:
    return hashlib.sha256(
        _canonical(repr(value) if isinstance(value, float) else value)
    ).hexdigest()


def _commit(salt: Any, value: Any) -> str | None:
    """A salted commitment, SHA-256(salt || canonical JSON of value) (sijil.ledger.entries
    .commit); None if ``salt`` is not 32 bytes in hex."""
    try:
        raw = bytes.fromhex(salt) if isinstance(salt, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        return None
    return hashlib.sha256(
        raw + _canonical(repr(value) if isinstance(value, float) else value)
    ).hexdigest()


def _salted(registered: dict[str, Any], report: dict[str, Any]) -> Any:
    """How an item.registered entry digests: plain (None), or salted commitments, whose
    salts this report's record carries (``{"fields": {...}, "files": {...}}``)."""
    if registered["data"].get("salted") is not True:
        return None
    salts = report.get("salts")
    ok = isinstance(salts, dict) and all(
        isinstance(salts.get(k), dict) for k in ("fields", "files")
    )
    return salts if ok else {"fields": {}, "files": {}}


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 section 2.1.1: SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 section 2.1.1: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def _desk_key(path: Path) -> Ed25519PublicKey:
    doc = json.loads(_read_regular(path, MAX_KEY_FILE))
    if doc.get("format") != "sijil-desk-pub/1":
        raise ValueError("not a sijil desk public-key file")
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(doc["sign_key"], validate=True))


class _Bounded(io.RawIOBase):
    """A regular file that refuses to read past ``limit`` bytes, even if it grows."""

    def __init__(self, fd: int, limit: int, name: str) -> None:
        super().__init__()
        self._file = io.FileIO(fd, "rb", closefd=True)
        self._limit, self._name = limit, name

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer: Any) -> int:
        room = self._limit - self._file.tell()
        view = memoryview(buffer).cast("B")
        got = self._file.readinto(view[: max(room, 0) + 1]) or 0
        if got > max(room, 0):
            raise ValueError(f"{self._name} grew past {self._limit} bytes while being read")
        return got

    def close(self) -> None:
        self._file.close()
        super().close()


def _open_regular(path: Path, max_bytes: int) -> IO[bytes]:
    """Open ``path`` only if it is a regular file of at most ``max_bytes``: a link, a
    FIFO or a device (``/dev/zero``) is refused before a byte is read (ValueError).

    The same rule as sijil.fsutil.open_regular, kept here because this file
    imports nothing from sijil."""
    name = path.name or str(path)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError(f"{name} is a symbolic link; not read") from exc
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{name} is not a regular file (a FIFO, device or folder); not read")
        if info.st_size > max_bytes:
            raise ValueError(f"{name} is larger than {max_bytes} bytes; not read")
        return io.BufferedReader(_Bounded(fd, max_bytes, name))
    except BaseException:
        os.close(fd)
        raise


def _read_regular(path: Path, max_bytes: int) -> bytes:
    with _open_regular(path, max_bytes) as handle:
        return handle.read()


class _Bag:
    """The bag's files, by path inside the bag; big files are hashed as streams, never loaded."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        every = archive.infolist()
        if len(every) > MAX_FILES:
            raise ValueError("the package is larger than any sijil package")
        seen = Counter(i.filename for i in every)
        if any(n > 1 for n in seen.values()):
            # zip tools disagree on which copy of a duplicated name they extract
            dup = next(name for name, n in seen.items() if n > 1)
            raise ValueError(f"unsafe package: the name {dup!r} appears twice in the zip")
        for info in every:
            name = info.filename
            parts = PurePosixPath(name).parts
            if name.startswith("/") or "\\" in name or ":" in (parts[0] if parts else ""):
                raise ValueError(f"unsafe package: absolute path {name!r}")
            if ".." in parts:
                raise ValueError(f"unsafe package: path {name!r} climbs out with '..'")
            if (info.external_attr >> 16) & _S_IFMT == _S_IFLNK:
                raise ValueError(f"unsafe package: {name!r} is a symbolic link")
            if info.flag_bits & _ENCRYPTED:
                raise ValueError(f"unsafe package: {name!r} is encrypted; sijil never encrypts")
            if info.compress_type not in _METHODS:
                raise ValueError(
                    f"unsafe package: {name!r} uses compression method {info.compress_type}; "
                    "sijil packages are only stored or deflated"
                )
        infos = [i for i in every if not i.is_dir()]
        if len(infos) > MAX_FILES or sum(i.file_size for i in infos) > MAX_TOTAL:
            raise ValueError("the package is larger than any sijil package")
        tops = {PurePosixPath(i.filename).parts[0] for i in infos}
        if len(tops) != 1:
            raise ValueError("a bag must be one top-level folder")
        top = tops.pop()
        self._archive = archive
        self._infos: dict[str, zipfile.ZipInfo] = {}
        self._hashes: dict[str, str] = {}
        for info in infos:
            self._infos[str(PurePosixPath(info.filename).relative_to(top))] = info

    def __contains__(self, path: object) -> bool:
        return path in self._infos

    def paths(self) -> set[str]:
        return set(self._infos)

    def read(self, path: str) -> bytes:
        info = self._infos[path]
        if info.file_size > MAX_METADATA:
            raise ValueError(f"{path} is too large for a metadata file")
        return self._archive.read(info)

    def get(self, path: str) -> bytes | None:
        return self.read(path) if path in self._infos else None

    def sha256(self, path: str) -> str:
        if path not in self._hashes:
            hasher = hashlib.sha256()
            with self._archive.open(self._infos[path]) as member:
                for chunk in iter(lambda: member.read(1 << 20), b""):
                    hasher.update(chunk)
            self._hashes[path] = hasher.hexdigest()
        return self._hashes[path]


def _check_manifest(files: _Bag, name: str, wanted: set[str], r: VerifyReport) -> None:
    listed: dict[str, str] = {}
    for line in (files.get(name) or b"").decode("utf-8").splitlines():
        digest, _, path = line.partition("  ")
        listed[path] = digest
    for path in sorted(wanted | set(listed)):
        if path not in listed:
            r.problems.append(f"{path}: in the bag but not in {name}")
        elif path not in files:
            r.problems.append(f"{path}: listed in {name} but missing from the bag")
        elif files.sha256(path) != listed[path]:
            r.problems.append(f"{path}: does not match its SHA-256 in {name} (altered)")


def _check_head(
    files: _Bag, key: Ed25519PublicKey, tsa_ca: bytes | None, timeout: float, r: VerifyReport
) -> dict[str, Any]:
    doc = json.loads(files.read("data/ledger/tree-head.json"))
    body = doc["tree_head"].encode()
    head: dict[str, Any] = json.loads(body)
    # the key the head names signs it; whether you trust that key is decided after the
    # entries are proven: yours, or one a key handover from yours leads to (_check_signer)
    signer = Ed25519PublicKey.from_public_bytes(base64.b64decode(head["log_key"], validate=True))
    try:
        signer.verify(base64.b64decode(doc["signature"]), body)
    except InvalidSignature:
        r.problems.append("tree head: the desk's signature does not verify (wrong key or altered)")
    r.lines.append(f"tree head: {head['tree_size']} entries, signed {head['timestamp']}")
    tsr = files.get("data/ledger/tree-head.tsr")
    if tsr is not None:
        _check_timestamp(tsr, body, tsa_ca, timeout, r)
    return head


def _check_timestamp(
    tsr: bytes, body: bytes, ca: bytes | None, timeout: float, r: VerifyReport
) -> None:
    # the root must come from the investigator: a root shipped in the package
    # would let whoever forged the package forge its timestamp too
    openssl = shutil.which("openssl")
    if ca is None:
        r.lines.append(
            "timestamp: present but NOT checked against a trusted root "
            "(pass --tsa-ca with the authority's root certificate)"
        )
        return
    if openssl is None:
        r.lines.append("timestamp: present but NOT checked (needs openssl)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "t.tsr").write_bytes(tsr)
        (Path(tmp) / "ca.pem").write_bytes(ca)
        args = [openssl, "ts", "-verify", "-digest", hashlib.sha256(body).hexdigest()]
        args += ["-in", str(Path(tmp) / "t.tsr"), "-CAfile", str(Path(tmp) / "ca.pem")]
        try:
            done = subprocess.run(args, capture_output=True, timeout=timeout, check=False)  # noqa: S603
        except subprocess.TimeoutExpired:
            r.problems.append(
                f"timestamp: openssl did not finish within {timeout:g} s, so the RFC 3161 "
                "token is NOT verified (try again, or raise --openssl-timeout)"
            )
            return
        except (OSError, subprocess.SubprocessError) as exc:
            why = getattr(exc, "strerror", None) or type(exc).__name__
            r.problems.append(f"timestamp: openssl could not be run ({why}), so it is NOT verified")
            return
    if done.returncode == 0 and b"Verification: OK" in done.stdout:
        r.lines.append("timestamp: RFC 3161 token verifies for this tree head (trusted root)")
    else:
        r.problems.append("timestamp: the RFC 3161 token does not verify for this tree head")


def _check_entries(files: _Bag, head: dict[str, Any], r: VerifyReport) -> dict[int, dict[str, Any]]:
    root = bytes.fromhex(head["root_hash"])
    proofs = {p["leaf_index"]: p for p in json.loads(files.read("data/ledger/proofs.json"))}
    entries: dict[int, dict[str, Any]] = {}
    for line in files.read("data/ledger/entries.jsonl").splitlines():
        entry = json.loads(line)
        seq = entry["seq"]
        proof = proofs.get(seq)
        leaf = leaf_hash(line)
        path = [bytes.fromhex(h) for h in proof["inclusion_path"]] if proof else []
        if proof is None or proof["tree_size"] != head["tree_size"]:
            r.problems.append(f"ledger entry #{seq}: no inclusion proof for this tree head")
        elif not verify_inclusion(leaf, seq, head["tree_size"], path, root):
            r.problems.append(f"ledger entry #{seq}: not in the signed log (proof fails)")
        entries[seq] = entry
    r.lines.append(f"ledger: {len(entries)} entries, each proven in the signed tree head")
    return entries


def _handover(entry: dict[str, Any]) -> tuple[bytes, bytes] | None:
    """A ``key.rotated`` entry's (old key, new key) if both signatures verify, else None."""
    data = entry["data"]
    if not isinstance(data, dict) or data.get("format") != HANDOVER_FORMAT:
        return None
    if set(data) != {*HANDOVER_STATEMENT, "old_signature", "new_signature"}:
        return None
    if data["tree_size"] != entry["seq"]:
        return None
    message = HANDOVER_CONTEXT + _canonical({k: data[k] for k in HANDOVER_STATEMENT})
    old = base64.b64decode(data["old_sign_key"], validate=True)
    new = base64.b64decode(data["new_sign_key"], validate=True)
    for raw, name in ((old, "old_signature"), (new, "new_signature")):
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(
                base64.b64decode(data[name], validate=True), message
            )
        except InvalidSignature:
            return None
    return old, new


def _check_signer(
    entries: dict[int, dict[str, Any]], head: dict[str, Any], key: Ed25519PublicKey, r: VerifyReport
) -> None:
    """The head's key is yours, or the desk handed its log over from yours to it, in
    proven ``key.rotated`` entries each signed by the key before and the key after."""
    signer = base64.b64decode(head["log_key"], validate=True)
    current = key.public_bytes_raw()
    if signer == current:
        return
    steps = []
    for seq in sorted(entries):
        if entries[seq]["kind"] != _KEY_ROTATED:
            continue
        handed = _handover(entries[seq])
        if handed is None:
            r.problems.append(f"ledger entry #{seq}: a key handover whose signatures do not verify")
            return
        if handed[0] == current:
            current = handed[1]
            steps.append(seq)
    if current != signer:
        r.problems.append(
            "tree head: it names a different desk key, and no key handover in the package "
            "leads to it from yours"
        )
        return
    shown = ", ".join(f"#{s}" for s in steps)
    r.lines.append(f"tree head: signed by the desk's newer key, handed over from yours in {shown}")


# Payload files that are not evidence items: the package's own bookkeeping.
_LEDGER_FILES = {
    "data/evidence.json",
    "data/ledger/entries.jsonl",
    "data/ledger/proofs.json",
    "data/ledger/tree-head.json",
    "data/ledger/tree-head.tsr",
    "data/ledger/tsa-ca.pem",
}


# a scrubbed copy's hash in an export entry without salted commitments (before issue 14)
_PLAIN = object()


def _derived_from(
    copy: dict[str, Any], item: dict[str, Any], salts: Any, salt: Any, export: dict[str, Any]
) -> bool:
    """Whether a ``scrubbed`` record names the registered file as its original: by the
    registration's own value (plain hash or commitment) in a salted export entry, by
    the plain hash (committed to under the registration's salt) in an older one."""
    of = copy.get("of")
    if export.get("salted") is True or salts is None:
        return of is not None and of == item["sha256"]
    return bool(_commit(salt, of) == item["sha256"])


def _scrubbed_salt(report: dict[str, Any], position: int, export: dict[str, Any]) -> Any:
    """The salt of a scrubbed copy's hash (from evidence.json), or _PLAIN in an older
    export entry, which holds the plain SHA-256."""
    if export.get("salted") is not True:
        return _PLAIN
    own = report.get("scrubbed_salts")
    return own.get(str(position)) if isinstance(own, dict) else None


def _export_entry(entries: dict[int, dict[str, Any]], r: VerifyReport) -> dict[str, Any] | None:
    exported = [e for e in entries.values() if e["kind"] == _EXPORTED]
    if len(exported) != 1:
        r.problems.append(f"the package holds {len(exported)} export entries, not exactly one")
        return None
    return exported[0]["data"]  # type: ignore[no-any-return]


def _entry(
    entries: dict[int, dict[str, Any]], seq: Any, kind: str, envelope: str
) -> dict[str, Any] | None:
    entry = entries.get(seq) if isinstance(seq, int) else None
    if entry is None or entry["kind"] != kind or entry["subject"] != envelope:
        return None
    return entry


def _check_items(files: _Bag, entries: dict[int, dict[str, Any]], r: VerifyReport) -> None:
    """Every payload file is derived from proven entries; evidence.json names nothing alone."""
    evidence = json.loads(files.read("data/evidence.json"))
    export = _export_entry(entries, r)
    if export is None:
        return
    ids = [report["report"] for report in evidence["reports"]]
    if sorted(ids) != sorted(export["reports"]) or len(set(ids)) != len(ids):
        r.problems.append("evidence.json does not list exactly the reports the export recorded")
    derived = {(d["report"], d["position"]): d for d in export.get("scrubbed", [])}
    accounted = {p for p in _LEDGER_FILES if p in files}
    for report in evidence["reports"]:
        rid, envelope = report["report"], report["envelope"]
        where = f"report #{rid}"
        registered = _entry(entries, report["ledger"]["registered"], _REGISTERED, envelope)
        received = _entry(entries, report["ledger"]["received"], _RECEIVED, envelope)
        if registered is None or registered["data"]["report"] != rid:
            r.problems.append(f"{where}: its registration entry is not in the package")
            continue
        if received is None or received["data"]["envelope"] != envelope:
            r.problems.append(f"{where}: its envelope.received entry is not in the package")
        salts = _salted(registered, report)

        def seal(name: str, value: Any, salts: Any = salts) -> str | None:
            return _digest(value) if salts is None else _commit(salts["fields"].get(name), value)

        if registered["data"]["fields"].get("envelope_id") != seal("envelope_id", envelope):
            r.problems.append(f"{where}: envelope id differs from the ledger")
        fields = report["fields"]
        missing = [name for name in EXPORTED_FIELDS if name not in fields]
        if missing:
            r.problems.append(f"{where}: evidence.json leaves out field(s) {', '.join(missing)}")
        for name, value in fields.items():
            if name not in EXPORTED_FIELDS:
                r.problems.append(f"{where}: evidence.json has a field {name!r} no package carries")
            elif registered["data"]["fields"].get(name) != seal(name, value):
                r.problems.append(f"{where}: field {name!r} differs from the ledger")
        logged = registered["data"]["attachments"]
        paths = []
        for item in logged:
            path = f"data/reports/report-{rid}/{item['position'] + 1:02d}-{item['name']}"
            paths.append(path)
            accounted.add(path)
            copy = derived.get((rid, item["position"]))
            salt = None if salts is None else salts["files"].get(str(item["position"]))
            if copy is not None and _derived_from(copy, item, salts, salt, export) is False:
                r.problems.append(f"{where}: {path} is recorded as derived from another file")
            elif path not in files:
                r.problems.append(f"{where}: {path} is missing")
            elif copy is not None:
                scrub_salt = _scrubbed_salt(report, item["position"], export)
                found = files.sha256(path)
                if (found if scrub_salt is _PLAIN else _commit(scrub_salt, found)) != copy.get(
                    "sha256"
                ):
                    r.problems.append(f"{where}: {path} differs from what the ledger recorded")
            elif (
                files.sha256(path) if salts is None else _commit(salt, files.sha256(path))
            ) != item["sha256"]:
                r.problems.append(f"{where}: {path} differs from what the ledger recorded")
        if [f.get("path") for f in report.get("files", [])] != paths:
            r.problems.append(f"{where}: evidence.json's file list differs from the ledger's")
        if export["originals"]:
            original = f"data/originals/{envelope}.age"
            accounted.add(original)
            if report.get("original") != original:
                r.problems.append(f"{where}: evidence.json does not name its sealed original")
            if original not in files or files.sha256(original) != envelope:
                r.problems.append(f"{where}: sealed original differs from the envelope received")
        scrubbed = sum(1 for item in logged if (rid, item["position"]) in derived)
        note = f" ({scrubbed} scrubbed at export, recorded)" if scrubbed else ""
        r.lines.append(f"{where}: {len(logged)} file(s) match the ledger{note}")
    if export.get("incident") is not None:
        accounted.add("data/incident.json")
        _check_incident(files, entries, export, r)
    for path in sorted(p for p in files.paths() if p.startswith("data/") and p not in accounted):
        r.problems.append(f"{path}: a file the ledger does not account for")


def _desk_entry(
    entries: dict[int, dict[str, Any]], seq: Any, kind: str, actions: tuple[str, ...], subject: str
) -> dict[str, Any] | None:
    entry = _entry(entries, seq, kind, subject)
    return entry if entry is not None and entry["data"].get("action") in actions else None


class _Desk:
    """Checks an incident's desk records against the entries they name."""

    def __init__(self, entries: dict[int, dict[str, Any]], export: dict[str, Any], r: VerifyReport):
        self.entries, self.code, self.r = entries, export["incident"], r
        self.withheld = {(w["record"], w["id"], w["field"]) for w in export.get("withheld", [])}

    def entry(
        self,
        seq: Any,
        kind: str,
        actions: tuple[str, ...],
        subject: str,
        names: tuple[str, Any],
        where: str,
    ) -> dict[str, Any] | None:
        """The entry ``seq`` if it is of this kind, action and subject, and names the record."""
        found = _desk_entry(self.entries, seq, kind, actions, subject)
        if found is None or found["data"].get(names[0]) != names[1]:
            self.r.problems.append(f"{where}: its ledger entry is not in the package")
            return None
        return found

    def same(
        self, where: str, entry: dict[str, Any], record: dict[str, Any], facts: dict[str, Any]
    ) -> bool:
        """Name each fact, and the record's by and at, that differ from the entry."""
        before = len(self.r.problems)
        facts = {"incident": self.code, **facts, "by": record.get("by")}
        for name, value in facts.items():
            if entry["data"].get(name) != value:
                label = name.removesuffix("_sha256")
                self.r.problems.append(f"{where}: field {label!r} differs from the ledger")
        if entry["at"] != record.get("at"):
            self.r.problems.append(f"{where}: field 'at' differs from the ledger")
        return len(self.r.problems) == before

    def text(self, facts: dict[str, Any], name: str, value: Any, record: str, number: Any) -> None:
        """A text's digest is compared, unless the export entry says it was withheld."""
        if value is None and (record, number, name) in self.withheld:
            return
        facts[f"{name}_sha256"] = None if value is None else _digest(value)


def _check_revisions(desk: _Desk, doc: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Each revision against its entry; return the fields of those that match."""
    proven: dict[int, dict[str, Any]] = {}
    code = desk.code
    for rev in doc["revisions"]:
        version, where = rev["version"], f"incident {code} revision {rev['version']}"
        action = _CREATED if version == 1 else _EDITED
        entry = desk.entry(
            rev["ledger"], _USER_ACTION, (action,), code, ("version", version), where
        )
        if entry is None:
            continue
        fields = rev["fields"]
        if (fields.get("code"), fields.get("version")) != (code, version) or _digest(
            fields
        ) != entry["data"].get("revision_sha256"):
            desk.r.problems.append(f"{where}: its fields differ from the ledger")
        elif desk.same(where, entry, rev, {}):
            proven[version] = fields
    versions = [rev["version"] for rev in doc["revisions"]]
    if versions != list(range(1, len(versions) + 1)):
        desk.r.problems.append(
            f"incident {code}: its revisions are not versions 1 to {len(versions)}"
        )
    record, where = doc["incident"], f"incident {code}"
    fields = record["fields"]
    latest = proven.get(max(versions, default=0))
    if record.get("ledger") != (doc["revisions"][-1]["ledger"] if versions else None):
        desk.r.problems.append(f"{where}: the record is not its latest revision")
    elif latest is not None and fields != latest:
        for name in sorted(set(fields) | set(latest)):
            if fields.get(name) != latest.get(name):
                desk.r.problems.append(f"{where}: field {name!r} differs from the ledger")
    return proven


def _check_links(desk: _Desk, doc: dict[str, Any], export: dict[str, Any], files: _Bag) -> None:
    for link in doc["evidence"]:
        where = f"evidence link #{link['link']} (report #{link['report']})"
        names = ("link", link["link"])
        entry = desk.entry(link["ledger"], _USER_ACTION, (_LINKED,), desk.code, names, where)
        if entry is None:
            continue
        facts = {
            name: link[name] for name in ("link", "report", "attachment", "role", "confidence")
        }
        desk.text(facts, "note", link["note"], "evidence", link["link"])
        desk.same(where, entry, link, facts)
        folder, file = f"data/reports/report-{link['report']}/", link.get("file")
        if (file is None) != (link["attachment"] is None) or (
            file is not None and (not file.startswith(folder) or file not in files)
        ):
            desk.r.problems.append(f"{where}: its file is not one of the report's in the package")
    if {link["report"] for link in doc["evidence"]} != set(export["reports"]):
        desk.r.problems.append(
            f"incident {desk.code}: its evidence links name other reports than the package holds"
        )
    for row in doc["attributions"]:
        where = f"attribution #{row['attribution']}"
        names = ("attribution", row["attribution"])
        entry = desk.entry(row["ledger"], _USER_ACTION, (_ATTRIBUTED,), desk.code, names, where)
        if entry is None:
            continue
        facts = {
            "attribution": row["attribution"],
            "actor": row["actor"]["id"],
            "stance": row["stance"],
        }
        desk.text(facts, "basis", row["basis"], "attribution", row["attribution"])
        desk.same(where, entry, row, facts)


def _check_assessments(desk: _Desk, doc: dict[str, Any]) -> None:
    """Approved assessments and their reviews; the current one is the last approved."""
    approvals: set[int] = set()  # whose approval the ledger records
    gradings: dict[int | None, Any] = {None: None}  # those where all else checks too
    for item in doc["assessments"]:
        token, where = item["assessment"], f"assessment {item['assessment']}"
        number, review = int(token.removeprefix("A-")), item["review"]
        names = ("assessment", number)
        entry = desk.entry(item["ledger"], _ASSESSMENT, (_PROPOSED,), token, names, where)
        decided = desk.entry(
            review["ledger"],
            _ASSESSMENT,
            _REVIEWED,
            token,
            ("review", review["review"]),
            f"{where}'s review",
        )
        if entry is None or decided is None:
            continue
        if decided["data"]["action"] != "assessment.approved" or review["decision"] != "approved":
            desk.r.problems.append(f"{where}: the ledger does not record its approval")
            continue
        approvals.add(number)
        content = item["content"]
        ok = desk.same(where, entry, item, {"assessment": number})
        if content.get("incident") != desk.code or _digest(content) != entry["data"].get(
            "content_sha256"
        ):
            desk.r.problems.append(
                f"{where}: its grading, harm, casualties or summaries differ from the ledger"
            )
            ok = False
        facts = {"assessment": number, "independent": review["independent"]}
        desk.text(facts, "comment", review["comment"], "review", review["review"])
        ok = desk.same(f"{where}'s review", decided, review, facts) and ok
        if item.get("review_mark") != (None if review["independent"] else NOT_INDEPENDENT):
            desk.r.problems.append(f"{where}: field 'review_mark' differs from the ledger")
        elif ok:
            gradings[number] = content.get("grading")
    record, where = doc["incident"], f"incident {desk.code}"
    current = max(approvals, default=None)
    marked = [int(a["assessment"].removeprefix("A-")) for a in doc["assessments"] if a["current"]]
    if record["current_assessment"] != (None if current is None else f"A-{current}") or (
        marked != ([] if current is None else [current])
    ):
        desk.r.problems.append(f"{where}: its current assessment is not the last one approved")
    elif current in gradings and record["grading"] != gradings[current]:
        desk.r.problems.append(f"{where}: field 'grading' differs from its current assessment")


def _check_incident(
    files: _Bag, entries: dict[int, dict[str, Any]], export: dict[str, Any], r: VerifyReport
) -> None:
    """data/incident.json: every record it holds against the entry it names."""
    if "data/incident.json" not in files:
        r.problems.append(f"incident {export['incident']}: data/incident.json is missing")
        return
    doc = json.loads(files.read("data/incident.json"))
    desk = _Desk(entries, export, r)
    if doc["incident"]["fields"].get("code") != desk.code:
        r.problems.append(f"incident.json is not about incident {desk.code}, which was exported")
        return
    before = len(r.problems)
    proven = _check_revisions(desk, doc)
    _check_links(desk, doc, export, files)
    _check_assessments(desk, doc)
    if len(r.problems) == before:
        withheld = f" ({len(desk.withheld)} text(s) withheld at export, recorded)"
        r.lines.append(
            f"incident {desk.code}: {len(proven)} revision(s), {len(doc['evidence'])} evidence "
            f"link(s), {len(doc['attributions'])} attribution(s), {len(doc['assessments'])} "
            f"approved assessment(s) match the ledger{withheld if desk.withheld else ''}"
        )


def verify_package(
    package: Path,
    desk_key: Path,
    *,
    tsa_ca: Path | None = None,
    openssl_timeout: float = OPENSSL_TIMEOUT_S,
) -> VerifyReport:
    """Check everything; return what was checked and every problem found.

    ``tsa_ca`` is the timestamp authority's root certificate, obtained by the
    investigator; without it a timestamp is reported as present but unchecked.
    ``openssl_timeout`` bounds the ``openssl ts -verify`` run, in seconds.
    """
    report = VerifyReport()
    try:
        key = _desk_key(Path(desk_key))
        root = None if tsa_ca is None else _read_regular(Path(tsa_ca), MAX_KEY_FILE)
        with _open_regular(Path(package), MAX_PACKAGE) as raw, zipfile.ZipFile(raw) as archive:
            files = _Bag(archive)
            if files.get("bagit.txt") != BAGIT_TXT:
                report.problems.append("bagit.txt: not a BagIt 1.0 declaration")
            paths = files.paths()
            payload = {p for p in paths if p.startswith("data/")}
            tags = {p for p in paths if not p.startswith("data/")} - {"tagmanifest-sha256.txt"}
            _check_manifest(files, "manifest-sha256.txt", payload, report)
            _check_manifest(files, "tagmanifest-sha256.txt", tags, report)
            head = _check_head(files, key, root, openssl_timeout, report)
            entries = _check_entries(files, head, report)
            _check_signer(entries, head, key, report)
            _check_items(files, entries, report)
    except (
        OSError,
        ValueError,
        KeyError,
        IndexError,  # zipfile itself, on a member with an empty name (found by fuzzing)
        TypeError,
        AttributeError,
        zipfile.BadZipFile,
    ) as exc:
        what = type(exc).__name__ if isinstance(exc, LookupError | TypeError) else str(exc)
        report.problems.append(f"the package cannot be read as a sijil evidence bag ({what})")
    except (RuntimeError, MemoryError, zlib.error, EOFError) as exc:
        # deeply nested JSON (RecursionError), huge JSON, a damaged compressed member,
        # an encrypted member or a compression method zipfile does not read
        # (RuntimeError): a hostile or broken package, not a crash of ours
        name = type(exc).__name__
        report.problems.append(f"the package cannot be read as a sijil evidence bag ({name})")
    return report


def _seconds(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError("give a number of seconds above 0")
    return value


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Verify a sijil evidence package.")
    parser.add_argument("package", type=Path)
    parser.add_argument("--desk-key", type=Path, required=True, help="the desk's desk.pub")
    parser.add_argument(
        "--tsa-ca", type=Path, help="the timestamp authority's root (PEM), from the authority"
    )
    parser.add_argument(
        "--openssl-timeout",
        type=_seconds,
        default=OPENSSL_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long openssl may take to check the timestamp (default {OPENSSL_TIMEOUT_S:g})",
    )
    args = parser.parse_args(argv)
    # a file name that is not UTF-8, or a console that cannot show a character,
    # must not turn a verdict into a traceback: such characters print escaped
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    try:
        result = verify_package(
            args.package, args.desk_key, tsa_ca=args.tsa_ca, openssl_timeout=args.openssl_timeout
        )
    except Exception as exc:  # noqa: BLE001 - the investigator gets a line, not a traceback
        result = VerifyReport(
            problems=[f"the verifier stopped on {type(exc).__name__}: the package is NOT verified"]
        )
    for line in result.lines:
        print(line)
    for problem in result.problems:
        print(f"PROBLEM  {problem}")
    print("OK: the package verifies" if not result.problems else "FAILED")
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
