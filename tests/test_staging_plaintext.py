"""No plaintext on the desk's disk: opened attachments go straight into the encrypted vault.

A report carrying a 1 MB PNG is imported by the real CLI in a process of its own,
killed with SIGKILL at a named point (SIJIL_TEST_CRASH_AT, sijil.faults): in the
middle of the attachment (``intake.attachment``, the PNG partly in its pending
blob) and once the attachments are committed but before registration
(``intake.register``). Then every file under the desk home (and every object of
an object-store vault) is searched for a 64-byte run of the PNG: none may hold it.
On both databases and both vault backends. The PNG's pixels are random, so its
compressed bytes cannot appear anywhere by chance, and the run is checked to be in
what the desk finally keeps.
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from cli_process import start_cli
from conftest import PASSPHRASE, DeskFixture
from sijil.desk.inputs import own_staging
from sijil.desk.intake import import_paths
from sijil.envelope.sealing import Draft
from sijil.field.compose import compose, export_outbox
from sijil.field.home import FieldSession
from sijil.store import Attachment
from sijil.vault import FolderBlobStore
from sijil.vault.s3 import S3BlobStore

RUN_TIMEOUT_S = 60
PNG_BYTES = 1_000_000
NEEDLE = 64
CRASH_POINTS = ["intake.attachment:1", "intake.register:1"]


@dataclass
class Sealed:
    """An envelope carrying the PNG, and a run of the PNG's bytes to search for."""

    envelope: Path
    png: bytes
    needle: bytes


def _random_png(seed: int) -> bytes:
    """A PNG of about 1 MB whose compressed data is random (no metadata to scrub)."""
    rng = random.Random(seed)
    side = int((PNG_BYTES / 3) ** 0.5)
    pixels = bytes(rng.getrandbits(8) for _ in range(side * side * 3))
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def make_png_envelope(
    make_correspondent: Callable[[DeskFixture, str], FieldSession], tmp_path: Path
) -> Callable[[DeskFixture], Sealed]:
    """Factory: Raven seals one report with a 1 MB PNG to ``desk``; the envelope's path."""

    def make(desk: DeskFixture) -> Sealed:
        raven = make_correspondent(desk, "Raven")
        png = _random_png(14)
        photo = tmp_path / "photo.png"
        photo.write_bytes(png)
        compose(raven, Draft(title="الصورة", body="نص", lang="ar"), [photo])
        photo.unlink()
        exported = export_outbox(raven, tmp_path / "stick")
        assert len(exported) == 1
        middle = len(png) // 2
        return Sealed(
            envelope=tmp_path / "stick" / f"{exported[0].envelope_id}.age",
            png=png,
            needle=png[middle : middle + NEEDLE],
        )

    return make


@pytest.fixture(params=["folder", "s3"])
def vault_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_png_desk(
    make_desk: Callable[..., DeskFixture],
    store_url: str,
    vault_kind: str,
    request: pytest.FixtureRequest,
) -> Callable[[], DeskFixture]:
    """Factory: a desk on this test's database and vault backend."""

    def make() -> DeskFixture:
        desk = make_desk(store_url)
        if vault_kind == "s3":
            url = request.getfixturevalue("make_s3_url")()
            desk.home.vault_config.write_text(json.dumps({"url": url}))
        return desk

    return make


def _env(crash_at: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIJIL_")}
    env["SIJIL_PASSPHRASE"] = PASSPHRASE
    env["SIJIL_TEST_CRASH_AT"] = crash_at
    return env


def _stored_bytes(desk: DeskFixture) -> Iterator[tuple[str, bytes]]:
    """Every file under the desk home, and every object of an object-store vault."""
    for path in sorted(desk.home.root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield str(path), path.read_bytes()
    blobs = desk.home.open_vault(desk.home.unlock(PASSPHRASE)).blobs
    if isinstance(blobs, S3BlobStore):
        listed = blobs.client.list_objects_v2(Bucket=blobs.bucket, Prefix=blobs.prefix)
        for item in listed.get("Contents", []):
            body = blobs.client.get_object(Bucket=blobs.bucket, Key=item["Key"])["Body"].read()
            yield item["Key"], body
    else:
        assert isinstance(blobs, FolderBlobStore)


def _holding(desk: DeskFixture, needle: bytes) -> list[str]:
    return [name for name, data in _stored_bytes(desk) if needle in data]


@pytest.mark.slow
@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_an_import_killed_mid_attachment_leaves_no_plaintext_on_disk(
    make_png_desk: Callable[[], DeskFixture],
    make_png_envelope: Callable[[DeskFixture], Sealed],
    tmp_path: Path,
    crash_at: str,
) -> None:
    # Given a desk and a stick holding a report with a 1 MB PNG
    desk = make_png_desk()
    sealed = make_png_envelope(desk)
    # When its import is killed with SIGKILL at the crash point
    argv = ["desk", "import", "--channel", "usb", *desk.args, str(sealed.envelope.parent)]
    process = start_cli(argv, _env(crash_at), tmp_path / "run.out")
    process.join(RUN_TIMEOUT_S)
    assert process.exitcode == -signal.SIGKILL, (tmp_path / "run.out").read_text()
    # Then no file under the desk home (nor object in its store) holds a byte run of the PNG
    assert _holding(desk, sealed.needle) == []
    # and importing again keeps the PNG, encrypted: still no plaintext anywhere
    identity = desk.home.unlock(PASSPHRASE)
    with desk.home.open_store() as store:
        outcomes = import_paths(desk.home, identity, store, [sealed.envelope], channel="usb")
        assert [o.status for o in outcomes] == ["imported"], outcomes
        with store.session() as session:
            kept = session.query(Attachment).one()
    assert desk.home.open_vault(identity).read_bytes(kept.sha256) == sealed.png
    assert _holding(desk, sealed.needle) == []


def test_a_leftover_staging_folder_of_an_older_version_is_cleaned(tmp_path: Path) -> None:
    # Given a staging folder an older sijil left decrypted attachments in
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / ".open-abc123").write_bytes(b"plaintext of an older layout")
    dead = staging / "run-999999999-x"
    dead.mkdir()
    (dead / ".open-1").write_bytes(b"plaintext")
    # When a new run takes its own staging folder
    own = own_staging(staging)
    # Then the leftovers are gone
    assert sorted(p.name for p in staging.iterdir()) == [own.name]
