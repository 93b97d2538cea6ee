"""Every input with which fuzzing (``make fuzz``, docs/fuzzing.md) made a parser crash.

Each crash libFuzzer saved is kept in ``fuzz/regressions/<target>/`` and run through
its target here, uninstrumented: it must end in a typed sijil error or not at all.
The tests after it say what each finding meant where an attacker meets it.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from relay_helpers import LocalRelay, local_relays
from sijil.crypto.identity import DeskIdentity
from sijil.errors import CorruptMedia
from sijil.export.verifier import verify_package
from sijil.scrub import scrub

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"
FOUND = sorted((FUZZ / "regressions").glob("*/*"))


def _targets() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sijil_fuzz_targets", FUZZ / "targets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("found", FOUND, ids=[f"{p.parent.name}/{p.name[-12:]}" for p in FOUND])
def test_no_input_fuzzing_found_crashes_its_parser_again(found: Path) -> None:
    # Given an input that once made a parser raise something other than a sijil error
    target = _targets().TARGETS[found.parent.name]
    # When it is parsed again, Then it ends in a typed error or not at all (no raise here)
    target.run(found.read_bytes())


@pytest.fixture
def local_relay(tmp_path: Path) -> Iterator[Callable[..., LocalRelay]]:
    with local_relays(tmp_path) as make:
        yield make


@pytest.mark.parametrize(
    "headers",
    [
        {b"Sijil-Challenge": b"1800000000.00.\xc4AAAA", b"Sijil-Key": b"AAAA"},
        {b"Sijil-Challenge": b"\xb2.00.00", b"Sijil-Key": b"AAAA"},
    ],
    ids=["non-ascii-mac", "superscript-time"],
)
def test_a_mailbox_challenge_in_latin1_is_refused_not_a_server_error(
    local_relay: Callable[..., LocalRelay], headers: dict[bytes, bytes]
) -> None:
    # Given a relay, and a mailbox request whose challenge header holds a Latin-1
    # byte (found by fuzzing: hmac.compare_digest raised TypeError, the relay 500)
    relay = local_relay(DeskIdentity.generate().public.sign)
    # When it is asked
    answer = relay.http.get(f"/v1/mailbox/{'0' * 64}", headers=headers)
    # Then it is a plain refusal
    assert answer.status_code == 401


@pytest.mark.parametrize("field", ["time", "length"])
def test_a_desk_request_with_a_superscript_digit_is_refused_not_a_server_error(
    local_relay: Callable[..., LocalRelay], field: str
) -> None:
    # Given a relay, and a desk request whose time or body length is "²" ("²".isdigit()
    # is True in Python, and int("²") raises ValueError)
    relay = local_relay(DeskIdentity.generate().public.sign)
    headers = {
        b"Sijil-Time": b"\xb2" if field == "time" else str(int(time.time())).encode(),
        b"Sijil-Nonce": b"0" * 32,
        b"Sijil-Signature": base64.b64encode(bytes(64)),
        b"Content-Length": b"\xb2" if field == "length" else b"0",
    }
    # When it is sent
    answer = relay.http.get("/v1/desk/envelopes", headers=headers)
    # Then it is refused as unsigned or not the desk's, never answered 500
    assert answer.status_code in (401, 403)


def test_the_verifier_reports_a_zip_member_with_an_empty_name(tmp_path: Path) -> None:
    # Given the package fuzzing found: a real package whose central directory names
    # one member "" (zipfile's ZipInfo.is_dir raised IndexError, a traceback)
    [package] = (FUZZ / "regressions" / "verifier").iterdir()
    with zipfile.ZipFile(package) as archive:
        assert "" in archive.namelist()
    key = tmp_path / "desk.pub"
    key.write_bytes(DeskIdentity.generate().public.to_bytes())
    # When the standalone verifier checks it
    report = verify_package(package, key)
    # Then it says the package cannot be read, and raises nothing
    assert report.problems == ["the package cannot be read as a sijil evidence bag (IndexError)"]


def test_httpx_sends_latin1_header_bytes_unchanged() -> None:
    # the tests above rely on httpx passing header bytes through as given
    request = httpx.Request("GET", "http://127.0.0.1/", headers={b"X": b"\xb2"})
    assert request.headers.raw[-1] == (b"X", b"\xb2")


def _saved(target: str, name: str = "") -> bytes:
    [found] = (FUZZ / "regressions" / target).glob(f"*crash-{name}*")
    return found.read_bytes()


def test_a_tiff_field_with_no_value_is_refused_as_corrupt() -> None:
    # Given the TIFF fuzzing found: a field (NewSubfileType) with a count of zero
    # (the scrubber took its first value: IndexError, a traceback in `sijil scrub`)
    data = _saved("scrub_tiff")
    # When it is scrubbed, Then it is refused with a one-line reason
    with pytest.raises(CorruptMedia, match="a field has no value"):
        scrub(io.BytesIO(data), io.BytesIO())


def test_a_pdf_info_key_that_is_not_utf8_is_reported_and_removed() -> None:
    # Given the PDF fuzzing found: its document information has a key whose bytes
    # are not UTF-8 (pikepdf's get() refused the key it had itself returned: TypeError)
    data = _saved("scrub_pdf", "f977")
    # When it is scrubbed
    out = io.BytesIO()
    report = scrub(io.BytesIO(data), out)
    # Then the key is reported, escaped, and the trailer no longer names the dictionary
    # (here the fuzzer pointed /Info at the page tree, which stays as the page tree)
    assert any(f.text.startswith("PDF Coun\\xdcf4") for f in report.removed)
    assert b"/Info" not in out.getvalue()


def test_a_pdf_qpdf_finds_damaged_while_reading_is_refused_as_corrupt() -> None:
    # Given the PDF fuzzing found whose page tree's /Count is wrong: qpdf raises
    # QpdfRuntimeError (not a PdfError) while opening it, and the scrubber let it out
    data = _saved("scrub_pdf", "e60b")
    # When it is scrubbed, Then it is refused with a one-line reason
    with pytest.raises(CorruptMedia, match="PDF is damaged"):
        scrub(io.BytesIO(data), io.BytesIO())
