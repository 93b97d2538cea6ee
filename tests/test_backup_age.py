"""Passphrase-locked age files (scrypt stanza) interoperate with the real ``age`` tool.

``age`` reads a passphrase only from a terminal, so these tests drive it through
a pseudo-terminal: they answer each prompt as it appears.
"""

from __future__ import annotations

import io
import os
import pty
import select
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sijil.envelope.age import CHUNK_SIZE
from sijil.envelope.age_passphrase import (
    MAX_LOG_N,
    PassphraseAgeReader,
    PassphraseAgeWriter,
)
from sijil.errors import MalformedEnvelope, NotForThisRecipient, PassphraseError

AGE = shutil.which("age")
needs_age = pytest.mark.skipif(AGE is None, reason="the age tool is not installed")
SECRET = "correct horse battery staple"
# How long the real age may take to derive its scrypt key (2**18) and finish.
AGE_DEADLINE_S = 60


def run_age_in_terminal(args: list[str], passphrase: str, prompts: int) -> int:
    """Run ``age ARGS`` on a pseudo-terminal, answering ``prompts`` passphrase prompts."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes age
        os.execv(AGE or "age", ["age", *args])  # noqa: S606 - the real age, fixed arguments
    seen = b""
    answered = 0
    deadline = time.monotonic() + AGE_DEADLINE_S
    try:
        while time.monotonic() < deadline:  # bounded by the deadline
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            try:
                data = os.read(fd, 1024)
            except OSError:  # EIO: age closed the terminal and exited
                break
            if not data:
                break
            seen += data
            if answered < prompts and seen.lower().count(b"passphrase") > answered:
                os.write(fd, passphrase.encode() + b"\n")
                answered += 1
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.fixture
def lock() -> Callable[..., bytes]:
    """Factory: ``data`` locked with a passphrase by sijil's writer (cheap scrypt unless told)."""

    def make(data: bytes, passphrase: str = SECRET, *, log_n: int = 10) -> bytes:
        out = io.BytesIO()
        writer = PassphraseAgeWriter(out, passphrase, log_n=log_n)
        writer.write(data)
        writer.close()
        return out.getvalue()

    return make


@needs_age
def test_age_opens_a_file_sijil_locked_with_a_passphrase(
    tmp_path: Path, lock: Callable[..., bytes]
) -> None:
    # Given two chunks and a bit of data locked by sijil at age's own work factor
    data = os.urandom(2 * CHUNK_SIZE + 5)
    (tmp_path / "f.age").write_bytes(lock(data, log_n=18))
    # When the real age decrypts it with the passphrase
    code = run_age_in_terminal(
        ["-d", "-o", str(tmp_path / "out"), str(tmp_path / "f.age")], SECRET, prompts=1
    )
    # Then it gets the data back
    assert code == 0
    assert (tmp_path / "out").read_bytes() == data


@needs_age
def test_sijil_opens_a_file_age_locked_with_a_passphrase(tmp_path: Path) -> None:
    # Given a file that `age -p` locked (it asks for the passphrase twice)
    data = os.urandom(CHUNK_SIZE * 3)
    (tmp_path / "plain").write_bytes(data)
    code = run_age_in_terminal(
        ["-p", "-o", str(tmp_path / "f.age"), str(tmp_path / "plain")], SECRET, prompts=2
    )
    assert code == 0
    # When sijil's reader opens it, Then the data comes back
    with (tmp_path / "f.age").open("rb") as handle:
        assert PassphraseAgeReader(handle, SECRET).read() == data
    # And a wrong passphrase is refused as such
    with (tmp_path / "f.age").open("rb") as handle, pytest.raises(PassphraseError):
        PassphraseAgeReader(handle, "not the passphrase")


def test_a_wrong_passphrase_is_a_passphrase_error(lock: Callable[..., bytes]) -> None:
    sealed = lock(b"secret rows")
    with pytest.raises(PassphraseError, match="wrong passphrase"):
        PassphraseAgeReader(io.BytesIO(sealed), "wrong")
    assert PassphraseAgeReader(io.BytesIO(sealed), SECRET).read() == b"secret rows"


def test_a_work_factor_over_the_limit_is_refused_before_any_work(
    lock: Callable[..., bytes],
) -> None:
    # Given a header whose scrypt stanza asks for 2**(MAX+1) work (its MAC no longer matters)
    sealed = lock(b"x")
    line_end = sealed.index(b"\n", len(b"age-encryption.org/v1\n"))
    stanza = sealed[:line_end].rsplit(b" ", 1)
    forged = stanza[0] + b" " + str(MAX_LOG_N + 1).encode() + sealed[line_end:]
    # When it is opened, Then it is refused as malformed, not computed
    with pytest.raises(MalformedEnvelope, match="over the limit"):
        PassphraseAgeReader(io.BytesIO(forged), SECRET)


def test_a_file_for_a_key_is_not_opened_with_a_passphrase() -> None:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from sijil.envelope.age import AgeWriter

    out = io.BytesIO()
    writer = AgeWriter(out, X25519PrivateKey.generate().public_key())
    writer.write(b"x")
    writer.close()
    with pytest.raises(NotForThisRecipient):
        PassphraseAgeReader(io.BytesIO(out.getvalue()), SECRET)
