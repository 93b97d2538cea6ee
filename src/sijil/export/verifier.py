"""Standalone verifier of sijil evidence packages; needs Python 3.11+ and ``cryptography``.

An investigator runs it without sijil:
``python3 verify_package.py PACKAGE.zip --desk-key desk.pub`` (a copy ships inside
every package; docs/package.md says how to check it is this file). It imports
nothing from sijil on purpose. It checks the BagIt manifests, the desk's
Ed25519 signature on the tree head, every entry's RFC 9162 inclusion proof, that
every file hashes to what the ledger recorded, that each exported field matches
its ledger digest, and, if ``openssl`` is present, the RFC 3161 timestamp.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["VerifyReport", "main", "verify_package"]

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
# A package larger than this, or with more files, is not one sijil made.
MAX_FILES = 100_000
MAX_TOTAL = 1 << 40
# evidence.json, entries and proofs: a few MB even for thousands of reports
MAX_METADATA = 256 << 20


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


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def _desk_key(path: Path) -> Ed25519PublicKey:
    doc = json.loads(path.read_bytes())
    if doc.get("format") != "sijil-desk-pub/1":
        raise ValueError("not a sijil desk public-key file")
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(doc["sign_key"], validate=True))


class _Bag:
    """The bag's files, by path inside the bag; big files are hashed as streams, never loaded."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        infos = [i for i in archive.infolist() if not i.is_dir()]
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
            rel = PurePosixPath(info.filename).relative_to(top)
            if rel.is_absolute() or ".." in rel.parts or "\\" in info.filename:
                raise ValueError(f"unsafe path in the package: {info.filename!r}")
            self._infos[str(rel)] = info

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


def _check_head(files: _Bag, key: Ed25519PublicKey, r: VerifyReport) -> dict[str, Any]:
    doc = json.loads(files.read("data/ledger/tree-head.json"))
    body = doc["tree_head"].encode()
    try:
        key.verify(base64.b64decode(doc["signature"]), body)
    except InvalidSignature:
        r.problems.append("tree head: the desk's signature does not verify (wrong key or altered)")
    head: dict[str, Any] = json.loads(body)
    if base64.b64decode(head["log_key"]) != key.public_bytes_raw():
        r.problems.append("tree head: it names a different desk key")
    r.lines.append(f"tree head: {head['tree_size']} entries, signed {head['timestamp']}")
    tsr = files.get("data/ledger/tree-head.tsr")
    ca = files.get("data/ledger/tsa-ca.pem")
    if tsr is not None:
        _check_timestamp(tsr, body, ca, r)
    return head


def _check_timestamp(tsr: bytes, body: bytes, ca: bytes | None, r: VerifyReport) -> None:
    openssl = shutil.which("openssl")
    if openssl is None or ca is None:
        r.lines.append("timestamp: present, not checked (needs openssl and tsa-ca.pem)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "t.tsr").write_bytes(tsr)
        (Path(tmp) / "ca.pem").write_bytes(ca)
        args = [openssl, "ts", "-verify", "-digest", hashlib.sha256(body).hexdigest()]
        args += ["-in", str(Path(tmp) / "t.tsr"), "-CAfile", str(Path(tmp) / "ca.pem")]
        done = subprocess.run(args, capture_output=True, timeout=60, check=False)  # noqa: S603
    if done.returncode == 0 and b"Verification: OK" in done.stdout:
        r.lines.append("timestamp: RFC 3161 token verifies for this tree head")
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
        leaf = hashlib.sha256(b"\x00" + line).digest()
        path = [bytes.fromhex(h) for h in proof["inclusion_path"]] if proof else []
        if proof is None or proof["tree_size"] != head["tree_size"]:
            r.problems.append(f"ledger entry #{seq}: no inclusion proof for this tree head")
        elif not verify_inclusion(leaf, seq, head["tree_size"], path, root):
            r.problems.append(f"ledger entry #{seq}: not in the signed log (proof fails)")
        entries[seq] = entry
    r.lines.append(f"ledger: {len(entries)} entries, each proven in the signed tree head")
    return entries


def _check_items(files: _Bag, entries: dict[int, dict[str, Any]], r: VerifyReport) -> None:
    evidence = json.loads(files.read("data/evidence.json"))
    for report in evidence["reports"]:
        where = f"report #{report['report']}"
        entry = entries.get(report["ledger"]["registered"])
        if entry is None or entry["kind"] != "item.registered":
            r.problems.append(f"{where}: its registration entry is not in the package")
            continue
        for name, value in report["fields"].items():
            if entry["data"]["fields"].get(name) != _digest(value):
                r.problems.append(f"{where}: field {name!r} differs from the ledger")
        logged = {a["position"]: a for a in entry["data"]["attachments"]}
        for item in report["files"]:
            expect = logged.get(item["position"], {})
            if item["path"] not in files:
                r.problems.append(f"{where}: {item['path']} is missing")
            elif files.sha256(item["path"]) != expect.get("sha256"):
                r.problems.append(f"{where}: {item['path']} differs from what the ledger recorded")
        original = report.get("original")
        if original:
            received = entries.get(report["ledger"]["received"], {})
            if original not in files or files.sha256(original) != received.get("subject"):
                r.problems.append(f"{where}: sealed original differs from the envelope received")
        r.lines.append(f"{where}: {len(report['files'])} file(s) match the ledger")
    if not any(e["kind"] == "exported" for e in entries.values()):
        r.problems.append("the export itself is not recorded in the ledger")


def verify_package(package: Path, desk_key: Path) -> VerifyReport:
    """Check everything; return what was checked and every problem found."""
    report = VerifyReport()
    try:
        key = _desk_key(Path(desk_key))
        with zipfile.ZipFile(package) as archive:
            files = _Bag(archive)
            if files.get("bagit.txt") != BAGIT_TXT:
                report.problems.append("bagit.txt: not a BagIt 1.0 declaration")
            paths = files.paths()
            payload = {p for p in paths if p.startswith("data/")}
            tags = {p for p in paths if not p.startswith("data/")} - {"tagmanifest-sha256.txt"}
            _check_manifest(files, "manifest-sha256.txt", payload, report)
            _check_manifest(files, "tagmanifest-sha256.txt", tags, report)
            head = _check_head(files, key, report)
            entries = _check_entries(files, head, report)
            _check_items(files, entries, report)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as exc:
        what = type(exc).__name__ if isinstance(exc, KeyError | TypeError) else str(exc)
        report.problems.append(f"the package cannot be read as a sijil evidence bag ({what})")
    return report


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Verify a sijil evidence package.")
    parser.add_argument("package", type=Path)
    parser.add_argument("--desk-key", type=Path, required=True, help="the desk's desk.pub")
    args = parser.parse_args(argv)
    result = verify_package(args.package, args.desk_key)
    for line in result.lines:
        print(line)
    for problem in result.problems:
        print(f"PROBLEM  {problem}")
    print("OK: the package verifies" if not result.problems else "FAILED")
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
