"""Shared by the vault, ledger, verify, export and crash tests: a desk with evidence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from conftest import PASSPHRASE, DeskFixture
from media import camera_jpeg
from sijil.desk.intake import ImportOutcome, import_paths
from sijil.envelope.sealing import Draft
from sijil.field.compose import compose, export_outbox
from sijil.field.home import FieldSession


@dataclass
class Evidence:
    desk: DeskFixture
    inbox: Path
    outcomes: list[ImportOutcome]


def seal_reports(session: FieldSession, tmp_path: Path, count: int, *, tag: str = "r") -> None:
    for i in range(count):
        photo = tmp_path / f"{tag}{i}.jpg"
        photo.write_bytes(camera_jpeg(seed=i + 7 * len(tag)))
        draft = Draft(title=f"{tag} report {i}", body="نص التقرير " * 3, lang="ar")
        compose(session, draft, [photo] if i % 3 != 2 else [])


def desk_with_evidence(
    make_desk: Callable[..., DeskFixture],
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    store_url: str,
    tmp_path: Path,
    *,
    reports: int = 3,
) -> Evidence:
    desk = make_desk(store_url)
    raven = make_correspondent(desk, "Raven")
    (tmp_path / "photos").mkdir()
    seal_reports(raven, tmp_path / "photos", reports)
    inbox = tmp_path / "inbox"
    export_outbox(raven, inbox)
    (inbox / "junk.bin").write_bytes(b"not an envelope at all")
    identity = desk.home.unlock(PASSPHRASE)
    with desk.home.open_store() as store:
        outcomes = import_paths(desk.home, identity, store, [inbox], channel="usb")
    return Evidence(desk=desk, inbox=inbox, outcomes=outcomes)
