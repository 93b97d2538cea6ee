"""One item never stops a batch (issue 14, item 4), on SQLite and PostgreSQL.

A validly signed report whose text carries control characters is refused when
its manifest is parsed, and quarantined with that reason while the rest of the
folder imports; an envelope that always fails at the head of the relay's
listing (which is in id order) no longer stops the envelopes after it.
"""

from __future__ import annotations

import dataclasses
import errno
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from conftest import DeskFixture, RelayHandle
from envelope_helpers import raw_envelope, sign
from sijil.crypto.canonical import canonical_json
from sijil.crypto.identity import CorrespondentIdentity, b64, raw_public
from sijil.desk.intake import ImportOutcome, ImportStatus, import_paths
from sijil.desk.pull import pull_envelopes
from sijil.envelope.manifest import Manifest
from sijil.envelope.sealing import Draft
from sijil.errors import IntakeAborted, MalformedEnvelope
from sijil.faults import FaultHook
from sijil.field.compose import compose
from sijil.field.home import FieldSession
from sijil.store import QuarantineItem

Correspondent_ = Callable[[DeskFixture, str], FieldSession]
PASSPHRASE = "test passphrase, not secret"
STRANGER = CorrespondentIdentity.generate()
# What a field that must be one line may not hold, and what a text may not hold.
LINE_BREAKERS = {"Cc", "Zl", "Zp"}


@pytest.fixture
def desk(make_desk: Callable[..., DeskFixture], store_url: str) -> DeskFixture:
    return make_desk(store_url)


def _manifest(**report: object) -> bytes:
    """Canonical manifest bytes of a report that says exactly ``report``."""
    doc = {
        "v": 1,
        "type": "report",
        "nonce": "00" * 16,
        "created_at": "2016-11-22T03:14:15Z",
        "report": {"title": "t", "body": "", "lang": "en", "location": None, **report},
        "attachments": [],
        "sender": {
            "sign_key": b64(raw_public(STRANGER.sign.public_key())),
            "reply_key": b64(raw_public(STRANGER.box.public_key())),
            "enrol_token": None,
        },
    }
    return canonical_json(doc)


def _signed_envelope(desk: DeskFixture, **report: object) -> bytes:
    """An envelope a stranger signed validly, whose report says exactly ``report``."""
    manifest = _manifest(**report)
    return raw_envelope(desk.home.public(), manifest, sign(STRANGER, manifest))


def _import(desk: DeskFixture, *paths: Path) -> list[ImportOutcome]:
    identity = desk.home.unlock(PASSPHRASE)
    with desk.home.open_store() as store:
        return import_paths(desk.home, identity, store, list(paths))


def _good_report(desk: DeskFixture, make_correspondent: Correspondent_, title: str) -> Path:
    raven = make_correspondent(desk, "Raven")
    made = compose(raven, Draft(title=title, body="نص التقرير", lang="ar"), [])
    return raven.envelope_path(made.envelope_id)


# --- the manifest parser ------------------------------------------------------------------

_ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=60)


@settings(max_examples=300)
@given(title=_ANY_TEXT.filter(str.strip), body=_ANY_TEXT)
def test_a_manifest_refuses_exactly_the_control_characters(title: str, body: str) -> None:
    # Given a signed report's manifest with any title and body
    data = _manifest(title=title, body=body)
    bad_title = any(_category(c) in LINE_BREAKERS for c in title)
    bad_body = any(_category(c) == "Cc" and c not in "\n\t" for c in body)
    # When it is parsed
    if bad_title or bad_body:
        # Then a control character anywhere in the title, or other than newline
        # and tab in the body, is refused with the field and the code point named
        with pytest.raises(MalformedEnvelope, match=r"control character \(U\+[0-9A-F]{4}\)"):
            Manifest.from_bytes(data)
    else:
        # and anything else parses back to what was signed
        parsed = Manifest.from_bytes(data)
        assert (parsed.title, parsed.body) == (title, body)


def _category(char: str) -> str:
    import unicodedata

    return unicodedata.category(char)


# --- a folder with poisoned reports -------------------------------------------------------


def test_reports_with_control_characters_are_quarantined_and_the_batch_goes_on(
    desk: DeskFixture, make_correspondent: Correspondent_, tmp_path: Path
) -> None:
    # Given, sorted first in a folder, validly signed reports whose titles hold a
    # NUL (which PostgreSQL refuses), a newline, a terminal escape, and whose body
    # holds a carriage return; and after them a good report
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    poisons = {
        "0-nul.age": {"title": "a\x00b"},
        "1-newline.age": {"title": "real title\nimported  report 9: 'forged'"},
        "2-escape.age": {"title": "clear \x1b[2J screen"},
        "3-cr.age": {"body": "line one\roverwritten"},
    }
    for name, report in poisons.items():
        (inbox / name).write_bytes(_signed_envelope(desk, **report))
    shutil.copy(_good_report(desk, make_correspondent, "good"), inbox / "9-good.age")
    # When the folder is imported
    outcomes = {Path(o.source).name: o for o in _import(desk, inbox)}
    # Then each poisoned report is quarantined with its reason, and the good one imported
    assert outcomes["9-good.age"].status == ImportStatus.IMPORTED
    expected = {
        "0-nul.age": "title contains a control character (U+0000)",
        "1-newline.age": "title contains a control character (U+000A)",
        "2-escape.age": "title contains a control character (U+001B)",
        "3-cr.age": "body contains a control character (U+000D)",
    }
    for name, reason in expected.items():
        assert outcomes[name].status == ImportStatus.QUARANTINED, outcomes[name]
        assert reason in outcomes[name].detail
    # And the quarantine keeps every one of them with that reason
    with desk.home.open_store() as store, store.session() as session:
        kept = {q.source_name: q.reason for q in session.scalars(select(QuarantineItem))}
    assert {name: kept[name] for name in expected} == {
        name: f"the report's {reason}" for name, reason in expected.items()
    }


# --- the relay's head -----------------------------------------------------------------------


def _failing_once(point: str) -> FaultHook:
    """A disk that is full the first time intake passes ``point``, then fine."""
    passes = {"n": 0}

    def hook(at: str) -> None:
        if at == point:
            passes["n"] += 1
            if passes["n"] == 1:
                raise OSError(errno.ENOSPC, "No space left on device")

    return hook


def _always_failing(at: str) -> None:
    if at == "intake.open":
        raise OSError(errno.ENOSPC, "No space left on device")


def _pull(
    desk: DeskFixture, relay: RelayHandle, faults: FaultHook | None = None
) -> list[ImportOutcome]:
    identity = desk.home.unlock(PASSPHRASE)
    home = desk.home if faults is None else dataclasses.replace(desk.home, faults=faults)
    with home.open_store() as store:
        return pull_envelopes(home, identity, store, relay=relay.url)


def _at_relay(relay: RelayHandle) -> set[str]:
    return {p.stem for p in (relay.spool / "envelopes").glob("*.age")}


def _file_at_relay(relay: RelayHandle, envelope: Path) -> str:
    shutil.copy(envelope, relay.spool / "envelopes" / envelope.name)
    return envelope.stem


def test_an_envelope_the_relay_cannot_serve_does_not_block_the_pull(
    desk: DeskFixture,
    make_correspondent: Correspondent_,
    make_relay: Callable[..., RelayHandle],
) -> None:
    # Given a relay whose first envelope, by id, is one it cannot serve (its
    # spool entry is not a file) and a good envelope after it
    relay = make_relay(desk.home.unlock(PASSPHRASE).public.sign)
    head = "00" + "ab" * 31
    (relay.spool / "envelopes" / f"{head}.age").mkdir()
    good = _file_at_relay(relay, _good_report(desk, make_correspondent, "good"))
    # When the desk pulls
    outcomes = {o.envelope_id: o for o in _pull(desk, relay)}
    # Then the head waits at the relay with the reason, and the good one is
    # imported and acknowledged
    assert outcomes[head].status == ImportStatus.WAITING
    assert "404" in outcomes[head].detail
    assert outcomes[good].status == ImportStatus.IMPORTED
    assert _at_relay(relay) == {head}


def test_an_envelope_whose_import_stopped_waits_and_the_next_is_pulled(
    desk: DeskFixture,
    make_correspondent: Correspondent_,
    make_relay: Callable[..., RelayHandle],
    tmp_path: Path,
) -> None:
    # Given two envelopes at the relay, the first of which stops intake (disk full once)
    relay = make_relay(desk.home.unlock(PASSPHRASE).public.sign)
    ids = _two_envelopes(desk, make_correspondent, relay, tmp_path)
    first, second = sorted(ids)
    # When the desk pulls
    outcomes = {o.envelope_id: o for o in _pull(desk, relay, _failing_once("intake.open"))}
    # Then the first waits at the relay, saying why, and the second is imported
    assert outcomes[first].status == ImportStatus.WAITING
    assert "No space left on device" in outcomes[first].detail
    assert outcomes[second].status == ImportStatus.IMPORTED
    assert _at_relay(relay) == {first}
    # And the next pull takes the first
    [again] = _pull(desk, relay)
    assert (again.envelope_id, again.status) == (first, ImportStatus.IMPORTED)
    assert _at_relay(relay) == set()


def test_a_machine_failure_on_every_envelope_still_stops_the_pull(
    desk: DeskFixture,
    make_correspondent: Correspondent_,
    make_relay: Callable[..., RelayHandle],
    tmp_path: Path,
) -> None:
    # Given two envelopes at the relay and a disk that is full
    relay = make_relay(desk.home.unlock(PASSPHRASE).public.sign)
    ids = _two_envelopes(desk, make_correspondent, relay, tmp_path)
    # When the desk pulls
    with pytest.raises(IntakeAborted, match="No space left on device"):
        _pull(desk, relay, _always_failing)
    # Then the pull stops with that one error and the relay keeps both
    assert _at_relay(relay) == ids


def _two_envelopes(
    desk: DeskFixture, make_correspondent: Correspondent_, relay: RelayHandle, tmp_path: Path
) -> set[str]:
    raven = make_correspondent(desk, "Raven")
    ids = set()
    for title in ("first", "second"):
        made = compose(raven, Draft(title=title, body="نص", lang="ar"), [])
        ids.add(_file_at_relay(relay, raven.envelope_path(made.envelope_id)))
    return ids
