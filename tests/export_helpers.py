"""Helpers the evidence-package tests share: export, verify, read and re-hash a package."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path

from conftest import CliResult, Evidence

Cli = Callable[..., CliResult]


def export_package(run_cli: Cli, ev: Evidence, out: Path, *extra: str) -> CliResult:
    """``sijil export package`` of reports 2 and 3 to ``out``; it must succeed."""
    result = run_cli(
        "export",
        "package",
        *ev.desk.args,
        "--report",
        "2",
        "--report",
        "3",
        "--out",
        str(out),
        *extra,
    )
    assert result.code == 0, result.err
    return result


def check_package(run_cli: Cli, ev: Evidence, package: Path, *extra: str) -> CliResult:
    """``sijil verify-package`` with the desk's public key."""
    key = str(ev.desk.home.public_file)
    return run_cli("verify-package", str(package), "--desk-key", key, *extra)


def package_members(package: Path) -> dict[str, bytes]:
    """The bag's files by their path inside the bag."""
    with zipfile.ZipFile(package) as archive:
        return {i.filename.split("/", 1)[1]: archive.read(i) for i in archive.infolist()}


def rewrite_package(package: Path, out: Path, change: Callable[[dict[str, bytes]], None]) -> Path:
    """Apply ``change`` and re-hash the BagIt manifests, so only the deeper checks can tell."""
    files = package_members(package)
    change(files)
    payload = sorted(p for p in files if p.startswith("data/"))
    files["manifest-sha256.txt"] = "".join(
        f"{hashlib.sha256(files[p]).hexdigest()}  {p}\n" for p in payload
    ).encode()
    tags = sorted(p for p in files if not p.startswith("data/") and p != "tagmanifest-sha256.txt")
    files["tagmanifest-sha256.txt"] = "".join(
        f"{hashlib.sha256(files[p]).hexdigest()}  {p}\n" for p in tags
    ).encode()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"bag/{name}", data)
    return out
