"""The demo's last scene: a correspondent is caught, and a duress envelope warns the desk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sijil.crypto.identity import DeskIdentity
from sijil.crypto.kdf import DEFAULT_KDF
from sijil.desk.home import DeskHome
from sijil.desk.intake import ImportOutcome, import_paths
from sijil.desk.reply import send_reply
from sijil.desk.reports import list_reports
from sijil.envelope.sealing import Draft
from sijil.errors import DeskError
from sijil.field.compose import compose, export_outbox
from sijil.field.duress import set_duress
from sijil.field.home import FieldSession

__all__ = ["DURESS_PASSPHRASE", "caught"]

DURESS_PASSPHRASE = "demo-duress-never-use-this"  # noqa: S105 - printed, for the demo only


def caught(
    home: Path,
    desk: DeskHome,
    identity: DeskIdentity,
    falcon: FieldSession,
    passphrase: str,
    echo: Callable[[str], None],
) -> None:
    """Falcon, caught at a checkpoint, unlocks with the duress passphrase; the desk is warned."""
    echo("\n== 10. A correspondent caught (مراسل معتقل): the duress passphrase ==")
    set_duress(falcon.home, passphrase, DURESS_PASSPHRASE, DEFAULT_KDF)
    compose(falcon, Draft(title="names of the detainees", body="…", lang="en"), [])
    forced = falcon.home.unlock(DURESS_PASSPHRASE)
    echo(
        "  Falcon, caught with a report unsent, gives the duress passphrase: the laptop works,"
        f" its outbox shows {len(forced.load_index())} reports (the real one is wiped)"
    )
    calm = compose(forced, Draft(title="All calm in the city tonight", body="", lang="en"), [])
    stick = home / "falcon-after-capture"
    export_outbox(forced, stick)
    echo(
        f"  made to report 'All calm in the city tonight': {calm.size} bytes, an ordinary"
        " envelope outside; the duress mark is inside the encrypted, signed manifest"
    )

    def show(outcome: ImportOutcome) -> None:
        alert = outcome.detail[outcome.detail.find("ALERT") :] if "ALERT" in outcome.detail else ""
        echo(f"  desk: {outcome.status} report {outcome.report_id} from Falcon; {alert}")

    with desk.open_store() as store:
        import_paths(desk, identity, store, [stick], channel="usb", progress=show)
        rows = [row for row in list_reports(store) if row.flag]
        flagged = ", ".join(f"#{row.id} [{str(row.flag).upper()}]" for row in rows)
        try:
            send_reply(identity, store, relay="http://127.0.0.1:9", codename="Falcon", text="ok?")
            said = "sent"
        except DeskError as refused:
            said = f"refused ({refused})"
    echo(f"  desk reports: {flagged}; a reply to Falcon: {said}")
