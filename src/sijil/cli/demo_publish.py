"""The demo's publishing scene: the reviewed work goes out through the gate, signed.

The bakery strike (reviewed) and the debunked depot claim are posted with the desk's
publication key, a planted codename is refused by the leak scan, and the static site
is built; the scene ends by verifying a post the way a reader would.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

from sijil.crypto.kdf import DEFAULT_KDF
from sijil.desk.home import DeskHome
from sijil.errors import PublishRefused
from sijil.publish import posting
from sijil.publish.gate_records import set_setting
from sijil.publish.keys import SSH_IDENTITY, PublicationKey
from sijil.publish.site import build_site
from sijil.publish.verify import verify_post

__all__ = ["publish_the_record"]

# The gate waits 24 h × the tier's factor after an event by default. The demo's night
# was last night, so it shortens the wait to what has passed; it says so on screen.
_DEMO_DELAY_HOURS = "1"
_DEMO_JITTER_HOURS = "1"


def publish_the_record(
    home: Path,
    desk: DeskHome,
    passphrase: str,
    work: tuple[str, str, str],
    echo: Callable[[str], None],
) -> Path:
    """Publish ``work`` (incident code, verdict token, editor) and build the site."""
    incident, verdict, editor = work
    echo("\n== 11. The public record (السجل العام): gate, signature, site ==")
    key = PublicationKey.init(desk, passphrase, DEFAULT_KDF)
    echo(f"  publication key made (not the ledger key): minisign id {key.public.key_id_hex}")
    with desk.open_store() as store:
        with store.session(write=True) as session:
            set_setting(session, "publish.delay_hours", _DEMO_DELAY_HOURS, by=editor)
            set_setting(session, "publish.jitter_hours", _DEMO_JITTER_HOURS, by=editor)
        echo(
            f"  (demo only: the gate's delay is set to {_DEMO_DELAY_HOURS} h × tier,"
            " jitter 1 h; the default is 24 h, jitter 12 h)"
        )
        try:
            with store.session(write=True) as session:
                posting.post(session, key, incident, by=editor)
        except PublishRefused as refused:
            echo(f"  without an attestation: {refused}")
        with store.session(write=True) as session:
            posting.attest(session, incident, by=editor)
            posting.attest(session, verdict, by=editor)
        echo(f"  {editor} attests that faces, voices and rooftops were checked")
        published = []
        for target in (incident, verdict):
            with store.session(write=True) as session:
                made = posting.post(session, key, target, by=editor)
            published.append(made)
            shown = "place and date coarsened" if made.kind == "incident" else "with its evidence"
            echo(
                f"  posted {made.kind} {made.subject} v{made.version} ({shown}): log entry"
                f" {made.log_index}, signed with minisign and SSH"
            )
        site = home / "site"
        built = build_site(desk, store, site)
    echo(
        f"  site built: {built.files} files, {built.bytes / 1024:.0f} KiB in {site}"
        " (/ar/ right to left, /en/, feeds, GeoJSON, CSV, the signed log)"
    )
    first = site / "posts" / f"{published[0].log_index}.json"
    checked = verify_post(first, public_key=site / "keys" / "publication.pub")
    echo(
        f"  sijil publish verify posts/{first.name}: both signatures and inclusion in the log"
        f" of {checked.log_size} OK (key {checked.key_id})"
    )
    q = shlex.quote
    echo(f"  open {q(str(site / 'index.html'))} in a browser (works from a USB stick too)")
    echo("  a reader verifies a post with stock tools:")
    echo(f"    minisign -V -p {q(str(site / 'keys' / 'publication.pub'))} -m {q(str(first))}")
    echo(
        f"    ssh-keygen -Y verify -f {q(str(site / 'keys' / 'allowed_signers'))}"
        f" -I {SSH_IDENTITY} -n sijil-post -s {q(str(first))}.sig < {q(str(first))}"
    )
    return site
