"""The publication key and post signatures, proven against minisign and ssh-keygen.

The minisign and SSHSIG formats are written by hand (sijil.publish.minisign,
sijil.publish.sshsig); these tests run Debian's ``minisign`` and OpenSSH's
``ssh-keygen`` both ways: the stock tool checks what we sign, and we check
what the stock tool signs.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import PASSPHRASE, CliResult, DeskFixture
from sijil.crypto.kdf import KdfParams
from sijil.errors import ConfigError, PassphraseError, PublicationError
from sijil.publish import minisign, sshsig
from sijil.publish.keys import PublicationKey, PublicationPublic
from sijil.publish.signing import sign_post, write_public_keys

MINISIGN = shutil.which("minisign")
SSH_KEYGEN = shutil.which("ssh-keygen")
needs_minisign = pytest.mark.skipif(MINISIGN is None, reason="minisign is not installed")
needs_ssh_keygen = pytest.mark.skipif(SSH_KEYGEN is None, reason="ssh-keygen is not installed")

POST = '{"action":"post","format":"sijil-post/1","log_index":0,"title":"غارة"}'.encode()


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, input=stdin, capture_output=True, check=False, timeout=30)


@pytest.fixture
def signed_post(tmp_path: Path) -> Callable[..., tuple[PublicationKey, Path]]:
    """Factory: a post file signed by a new key, its .minisig, .sig and keys/ beside it."""

    def make(body: bytes = POST, comment: str = "sijil post 0") -> tuple[PublicationKey, Path]:
        key = PublicationKey.generate()
        post = tmp_path / "post.json"
        post.write_bytes(body)
        signatures = sign_post(key, body, trusted_comment=comment)
        (tmp_path / "post.json.minisig").write_text(signatures.minisig)
        (tmp_path / "post.json.sig").write_text(signatures.sshsig)
        write_public_keys(tmp_path / "keys", key.public)
        return key, post

    return make


# --- minisign -----------------------------------------------------------------------


@needs_minisign
def test_minisign_binary_verifies_our_signature(
    signed_post: Callable[..., tuple[PublicationKey, Path]],
) -> None:
    # Given a post signed by sijil
    _, post = signed_post(comment="sijil post 0 · 2026-12-02")
    # When Debian's minisign checks it with the site's public key
    done = run("minisign", "-V", "-p", str(post.parent / "keys/publication.pub"), "-m", str(post))
    # Then it verifies, and shows our trusted comment
    assert done.returncode == 0, done.stderr
    assert "Trusted comment: sijil post 0 · 2026-12-02" in done.stdout.decode()


@needs_minisign
def test_minisign_binary_rejects_a_changed_post(
    signed_post: Callable[..., tuple[PublicationKey, Path]],
) -> None:
    # Given a signed post whose bytes were changed afterwards
    key, post = signed_post()
    post.write_bytes(POST.replace(b"post", b"p0st", 1))
    # When both minisign and sijil check it
    done = run("minisign", "-V", "-p", str(post.parent / "keys/publication.pub"), "-m", str(post))
    # Then both refuse it
    assert done.returncode != 0
    with pytest.raises(PublicationError, match="changed after signing"):
        minisign.verify(
            key.public, post.read_bytes(), (post.parent / "post.json.minisig").read_text()
        )


@needs_minisign
@pytest.mark.parametrize("legacy", [False, True], ids=["prehashed", "legacy"])
def test_we_verify_what_the_minisign_binary_signs(tmp_path: Path, legacy: bool) -> None:
    # Given a key pair and a signature made by the minisign binary
    pub, sec, message = tmp_path / "m.pub", tmp_path / "m.key", tmp_path / "msg.txt"
    message.write_bytes(POST)
    assert run("minisign", "-G", "-W", "-p", str(pub), "-s", str(sec)).returncode == 0
    signed = run(
        "minisign", "-S", *(["-l"] if legacy else []), "-s", str(sec), "-m", str(message),
        "-t", "made by the binary",
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    public = PublicationPublic.from_minisign(pub.read_text())
    text = (tmp_path / "msg.txt.minisig").read_text()
    # When sijil checks it
    comment = minisign.verify(public, POST, text)
    # Then it verifies with its trusted comment, and a changed comment is caught
    assert comment == "made by the binary"
    forged = text.replace("made by the binary", "made by someone else")
    with pytest.raises(PublicationError, match="trusted comment was changed"):
        minisign.verify(public, POST, forged)


def test_minisign_names_another_key_and_refuses_multiline_comments() -> None:
    # Given two keys
    ours, theirs = PublicationKey.generate(), PublicationKey.generate()
    text = minisign.sign(ours, POST, trusted_comment="one line")
    # Then a signature by the other key is named as such, and a comment must be one line
    with pytest.raises(PublicationError, match="another key"):
        minisign.verify(theirs.public, POST, text)
    with pytest.raises(PublicationError, match="one line"):
        minisign.sign(ours, POST, trusted_comment="two\nlines")
    with pytest.raises(PublicationError, match="not a minisign signature"):
        minisign.verify(ours.public, POST, "garbage")


# --- OpenSSH SSHSIG -----------------------------------------------------------------


@needs_ssh_keygen
def test_ssh_keygen_verifies_our_signature(
    signed_post: Callable[..., tuple[PublicationKey, Path]],
) -> None:
    # Given a post signed by sijil and the site's allowed_signers
    _, post = signed_post()
    keys = post.parent / "keys"
    args = ("ssh-keygen", "-Y", "verify", "-f", str(keys / "allowed_signers"))
    sig = str(post.parent / "post.json.sig")
    # When ssh-keygen checks it in the sijil-post namespace
    done = run(*args, "-I", "publication@sijil", "-n", "sijil-post", "-s", sig, stdin=POST)
    # Then it verifies; another namespace or a changed post does not
    assert done.returncode == 0, done.stderr
    assert b'Good "sijil-post" signature' in done.stdout
    wrong_ns = run(*args, "-I", "publication@sijil", "-n", "git", "-s", sig, stdin=POST)
    assert wrong_ns.returncode != 0
    changed = run(
        *args, "-I", "publication@sijil", "-n", "sijil-post", "-s", sig, stdin=POST + b" "
    )
    assert changed.returncode != 0


@needs_ssh_keygen
def test_we_verify_what_ssh_keygen_signs(tmp_path: Path) -> None:
    # Given an Ed25519 key and a signature made by ssh-keygen -Y sign
    key = tmp_path / "id_ed25519"
    made = run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "t", "-f", str(key))
    assert made.returncode == 0, made.stderr
    message = tmp_path / "post.json"
    message.write_bytes(POST)
    signed = run("ssh-keygen", "-Y", "sign", "-f", str(key), "-n", "sijil-post", str(message))
    assert signed.returncode == 0, signed.stderr
    blob = base64.b64decode(Path(f"{key}.pub").read_text().split()[1])
    raw_key = blob[-32:]
    armored = (tmp_path / "post.json.sig").read_text()
    # When sijil checks it
    sshsig.verify(raw_key, POST, armored)
    # Then it verified; a changed post or another namespace is refused
    with pytest.raises(PublicationError, match="changed after signing"):
        sshsig.verify(raw_key, POST + b" ", armored)
    with pytest.raises(PublicationError, match="another purpose"):
        sshsig.verify(raw_key, POST, armored, namespace="file")


def test_sshsig_refuses_garbage_and_other_keys() -> None:
    # Given a signature by one key
    ours, theirs = PublicationKey.generate(), PublicationKey.generate()
    armored = sshsig.sign(ours, POST)
    # Then another key, a cut-short blob and a non-signature are each named
    with pytest.raises(PublicationError, match="another key"):
        sshsig.verify(theirs.public.raw, POST, armored)
    lines = armored.splitlines()
    cut = "\n".join([lines[0], lines[1][:40], lines[-1]])
    with pytest.raises(PublicationError, match=r"ends early|not base64"):
        sshsig.verify(ours.public.raw, POST, cut)
    with pytest.raises(PublicationError, match="not an armored"):
        sshsig.verify(ours.public.raw, POST, "hello")


# --- the key in the desk home -------------------------------------------------------


def test_key_init_and_load_with_the_desk_passphrase(
    make_desk: Callable[..., DeskFixture], fast_kdf: KdfParams
) -> None:
    # Given a desk
    home = make_desk().home
    # When its publication key is made and loaded again
    made = PublicationKey.init(home, PASSPHRASE, fast_kdf, origin="example.org/log")
    loaded = PublicationKey.load(home, PASSPHRASE)
    # Then it is the same key, the origin is kept, and the public side needs no passphrase
    assert loaded.public.raw == made.public.raw and loaded.key_id == made.key_id
    assert PublicationPublic.load(home).origin == "example.org/log"
    assert loaded.public.raw != home.public().sign.public_bytes_raw()  # not the ledger key
    with pytest.raises(PassphraseError):
        PublicationKey.load(home, "not the passphrase")
    with pytest.raises(ConfigError, match="already has a publication key"):
        PublicationKey.init(home, PASSPHRASE, fast_kdf)


def test_relock_follows_a_desk_passphrase_change(
    make_desk: Callable[..., DeskFixture], fast_kdf: KdfParams
) -> None:
    # Given a desk with a publication key
    home = make_desk().home
    made = PublicationKey.init(home, PASSPHRASE, fast_kdf)
    # When the key is re-locked under a new passphrase
    assert PublicationKey.relock(home, PASSPHRASE, "a new passphrase", fast_kdf)
    # Then only the new passphrase opens it, and it is the same key
    assert PublicationKey.load(home, "a new passphrase").public.raw == made.public.raw
    with pytest.raises(PassphraseError):
        PublicationKey.load(home, PASSPHRASE)


def test_a_desk_without_a_publication_key_refuses_in_one_line(
    make_desk: Callable[..., DeskFixture],
) -> None:
    # Given a desk that never ran 'publish key init'
    home = make_desk().home
    # When signing would need the key
    with pytest.raises(ConfigError) as caught:
        PublicationKey.load(home, PASSPHRASE)
    # Then one line says what to run
    message = str(caught.value)
    assert "\n" not in message and "sijil publish key init" in message


@pytest.mark.parametrize("origin", ["", "has space", "a+b", "x" * 201, "tab\there"])
def test_bad_origins_are_refused(origin: str) -> None:
    with pytest.raises(ConfigError, match="origin"):
        PublicationKey.generate(origin)


def test_public_forms_agree_with_each_other() -> None:
    # Given a key's minisign, OpenSSH and allowed_signers forms
    public = PublicationKey.generate().public
    # Then each carries the same 32-byte key, and the minisign file reads back
    assert PublicationPublic.from_minisign(public.minisign_public()).raw == public.raw
    ssh_blob = base64.b64decode(public.ssh_public().split()[1])
    assert ssh_blob == public.ssh_blob() and ssh_blob.endswith(public.raw)
    assert public.allowed_signers().split()[-1] == public.ssh_public().split()[1]
    assert PublicationPublic.from_bytes(public.to_bytes()) == public


def test_cli_key_init_makes_the_key_and_refuses_a_second(
    make_desk: Callable[..., DeskFixture], run_cli: Callable[..., CliResult]
) -> None:
    # Given a desk and SIJIL_PASSPHRASE (the make_desk fixture sets it)
    desk = make_desk()
    # When 'publish key init' runs twice
    first = run_cli("publish", "key", "init", *desk.args, "--origin", "example.org/log")
    second = run_cli("publish", "key", "init", *desk.args)
    # Then the first makes it and the second refuses in one line
    assert first.code == 0, first.err
    assert "publication key" in first.out
    assert (desk.home.root / "publication.key").is_file()
    assert second.code != 0
    assert "already has a publication key" in second.err
    assert second.err.strip().count("\n") == 0
