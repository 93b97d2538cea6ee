"""Output that cannot lie (issue 14, item 7): outside text printed escaped, strangers marked.

A title, a file name or a codename never reaches the terminal with a control
character, a line separator or a bidi override in it; Arabic with its marks is
printed as it is; JSON stays exact; an unenrolled key never reads as a codename.
"""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from conftest import PASSPHRASE, CliResult, DeskFixture
from envelope_helpers import raw_envelope, sign
from sijil.cli.display import safe_text, source_label, terminal_safe
from sijil.crypto.canonical import canonical_json
from sijil.crypto.identity import CorrespondentIdentity, b64, raw_public
from sijil.envelope.sealing import Draft
from sijil.field.compose import compose
from sijil.field.home import FieldSession
from sijil.store import Report

Run = Callable[..., CliResult]
BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
ARABIC_MARKS = "\u200e\u200f\u061c"
_OCTAL = re.compile(r"\\([0-7]{3})")
_C_STYLE = {"a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r"}

# every code point, lone surrogates (undecodable file-name bytes) included
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=80)


def _unquote(shown: str) -> str:
    """Git's unquote_c_style: the text ``terminal_safe`` was given back from what it printed
    (plus ``\\uXXXX``, for a lone surrogate that is no undecodable byte)."""
    if not (shown.startswith('"') and shown.endswith('"') and len(shown) >= 2):
        return shown
    out: list[str] = []
    pending = bytearray()  # octal escapes: the UTF-8 (or undecodable) bytes of a character

    def flush() -> None:
        out.append(pending.decode("utf-8", "surrogateescape"))
        pending.clear()

    body, i = shown[1:-1], 0
    while i < len(body):
        char = body[i]
        following = body[i + 1] if char == "\\" else ""
        octal = _OCTAL.match(body, i) if char == "\\" else None
        if octal is not None:
            pending.append(int(octal.group(1), 8))
            i += 4
            continue
        flush()
        if char != "\\":
            out.append(char)
            i += 1
        elif following in _C_STYLE:
            out.append(_C_STYLE[following])
            i += 2
        elif following in '"\\':
            out.append(following)
            i += 2
        else:
            assert following == "u", f"bad escape in {shown!r}"
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
    flush()
    return "".join(out)


def _never_unsafe(shown: str) -> None:
    for char in shown:
        category = unicodedata.category(char)
        assert category not in ("Cc", "Zl", "Zp", "Cs"), f"{char!r} in {shown!r}"
        assert char not in BIDI_CONTROLS, f"{char!r} in {shown!r}"


@settings(max_examples=500)
@given(text=ANY_TEXT)
def test_terminal_safe_never_prints_a_control_and_never_loses_the_text(text: str) -> None:
    # Given any text from outside, when it is made safe to print
    shown = terminal_safe(text)
    # Then no control, line separator, bidi control or lone surrogate is left
    _never_unsafe(shown)
    assert "\n" not in shown
    shown.encode("utf-8")  # a terminal can be handed it
    # And it reads back as exactly the text it was (two texts never print alike)
    assert _unquote(shown) == text


@settings(max_examples=300)
@given(text=ANY_TEXT)
def test_safe_text_escapes_the_same_and_keeps_lines_only_when_asked(text: str) -> None:
    # Given any text, when a message quoting it is made safe as one line
    one_line = safe_text(text)
    # Then nothing unsafe is left, not even a newline
    _never_unsafe(one_line)
    # And as lines of text only its newlines and tabs are left as they were
    as_lines = safe_text(text, lines=True)
    assert as_lines.count("\n") == text.count("\n")
    _never_unsafe(as_lines.replace("\n", "").replace("\t", ""))


ARABIC = st.text(
    st.sampled_from(
        [chr(c) for c in range(0x0621, 0x064B)]
        + list("٠١٢٣٤٥٦٧٨٩0123456789 ،.؟!-()")
        + list(ARABIC_MARKS)
        + ["\u200c", "\u200d"]
    ),
    max_size=80,
)


@settings(max_examples=300)
@given(text=ARABIC)
def test_arabic_with_its_marks_is_printed_unchanged(text: str) -> None:
    # Given Arabic text with the marks and joiners it needs, when made safe
    # Then it is printed exactly as it is, unquoted
    assert terminal_safe(text) == text
    assert safe_text(text) == text


def test_the_escapes_are_git_style() -> None:
    # Given a title that would clear the screen and start a line of its own
    title = "strike\n\x1b[2J\u202egpj.exe"
    # Then it prints quoted, escaped as git escapes a path
    assert terminal_safe(title) == '"strike\\n\\033[2J\\342\\200\\256gpj.exe"'
    # And an undecodable byte of a file name shows as that byte
    assert terminal_safe(b"photo\xff.jpg".decode("utf-8", "surrogateescape")) == '"photo\\377.jpg"'


def test_an_unenrolled_key_is_marked_and_never_reads_as_a_codename() -> None:
    assert source_label("Raven") == "Raven"
    assert source_label("unenrolled-2514160228", enrolled=False) == ("[UNENROLLED KEY 2514160228]")
    # a desk row whose flag says unenrolled is marked whatever its codename
    assert source_label("Raven", enrolled=False) == "[UNENROLLED KEY Raven]"


# --- through the CLI ---------------------------------------------------------------------


@pytest.fixture
def desk(make_desk: Callable[..., DeskFixture], store_url: str, passphrase: str) -> DeskFixture:
    return make_desk(store_url)


def _stranger_envelope(desk: DeskFixture, title: str) -> bytes:
    stranger = CorrespondentIdentity.generate()
    manifest = canonical_json(
        {
            "v": 1,
            "type": "report",
            "nonce": "11" * 16,
            "created_at": "2016-11-22T03:14:15Z",
            "report": {"title": title, "body": "", "lang": "en", "location": None},
            "attachments": [],
            "sender": {
                "sign_key": b64(raw_public(stranger.sign.public_key())),
                "reply_key": b64(raw_public(stranger.box.public_key())),
                "enrol_token": None,
            },
        }
    )
    return raw_envelope(desk.home.public(), manifest, sign(stranger, manifest))


def test_a_title_with_a_newline_and_an_escape_prints_as_one_escaped_line(
    desk: DeskFixture,
    make_correspondent: Callable[[DeskFixture, str], FieldSession],
    run_cli: Run,
    tmp_path: Path,
) -> None:
    # Given a report from Raven and one from a key the desk never enrolled, and
    # (as an older desk could have stored it) a stranger's title with a newline
    # and a clear-screen sequence forging a line credited to Raven
    raven = make_correspondent(desk, "Raven")
    made = compose(raven, Draft(title="from raven", body="نص", lang="ar"), [])
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(raven.envelope_path(made.envelope_id), inbox / "raven.age")
    (inbox / "stranger.age").write_bytes(_stranger_envelope(desk, "placeholder"))
    imported = run_cli("desk", "import", *desk.args, str(inbox))
    assert imported.code == 0, imported.err
    forged = "x\n#999  2016-11-22 03:14  en  Raven  0 file(s)  forged\x1b[2J"
    with desk.home.open_store() as store, store.session(write=True) as session:
        session.execute(update(Report).where(Report.title == "placeholder").values(title=forged))
    # When the desk lists its reports
    listed = run_cli("desk", "reports", *desk.args)
    # Then each report is one line, the forged title is escaped on its own line,
    # no escape sequence reaches the terminal, and the stranger is marked
    assert listed.code == 0, listed.err
    lines = listed.out.splitlines()
    assert len(lines) == 2, listed.out
    assert "\x1b" not in listed.out
    (stranger_line,) = [line for line in lines if "forged" in line]
    assert '"x\\n#999  2016-11-22 03:14  en  Raven  0 file(s)  forged\\033[2J"' in stranger_line
    assert "[UNENROLLED KEY " in stranger_line and " Raven  " not in stranger_line.split('"')[0]
    (raven_line,) = [line for line in lines if "from raven" in line]
    assert "  Raven  " in raven_line and "UNENROLLED" not in raven_line
    # And the JSON output keeps the title exact
    as_json = run_cli("desk", "reports", *desk.args, "--json")
    assert forged in [row["title"] for row in json.loads(as_json.out)]


def test_a_file_name_with_a_newline_cannot_print_a_fake_imported_line(
    desk: DeskFixture, run_cli: Run, tmp_path: Path
) -> None:
    # Given a stick holding junk named to print a fake "imported" line, and a
    # stranger's report
    stick = tmp_path / "stick"
    stick.mkdir()
    fake = "junk\nimported    abcdef0123456789 report 7: 'ok', 0 file(s) from Raven\x1b[2J"
    (stick / fake).write_bytes(b"not an envelope")
    (stick / "z.age").write_bytes(_stranger_envelope(desk, "a stranger's report"))
    # When imported
    result = run_cli("desk", "import", *desk.args, str(stick))
    # Then one line per input and the summary: the name is escaped in its line
    lines = result.out.splitlines()
    assert len(lines) == 3, result.out
    assert "\x1b" not in result.out
    (junk,) = [line for line in lines if line.startswith("quarantined")]
    assert (
        "[\"junk\\nimported    abcdef0123456789 report 7: 'ok', 0 file(s) from Raven\\033[2J\"]"
        in junk
    )
    # And the stranger's report is marked as from an unenrolled key
    (stranger,) = [line for line in lines if line.startswith("imported")]
    assert "from [UNENROLLED KEY " in stranger
    assert PASSPHRASE not in result.out
