"""The ``sijil`` command: parse, call the library, catch the root error, exit.

Every option that is not a secret can also be set from the environment:
``--home`` is SIJIL_FIELD_HOME or SIJIL_DESK_HOME, ``--db`` is SIJIL_DB_URL, and
any other option is SIJIL_<COMMAND>_<SUBCOMMAND>_<OPTION> (see ``--help``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from sijil import __version__
from sijil.cli.backup_cmds import register_backup
from sijil.cli.claim_cmds import register_claims
from sijil.cli.correspondent_cmds import register_correspondents
from sijil.cli.desk_cmds import desk
from sijil.cli.desk_encrypt_cmds import migrate_encrypt
from sijil.cli.desk_work_cmds import register_desk_work
from sijil.cli.display import safe_text
from sijil.cli.export_cmds import export
from sijil.cli.field_cmds import field
from sijil.cli.key_rotate_cmds import register_key_rotation
from sijil.cli.media_cmds import media
from sijil.cli.passphrase_cmds import register_passphrase
from sijil.cli.publish_cmds import publish
from sijil.cli.relay_client_cmds import inbox, pull, reply, send
from sijil.cli.relay_cmds import relay
from sijil.cli.relay_token_cmds import register_relay_token
from sijil.cli.report_link_cmds import register_report_links
from sijil.cli.scrub_cmds import scrub
from sijil.cli.search_cmds import desk_search
from sijil.cli.vault_cmds import register_vault
from sijil.cli.verify_cmds import ledger, verify, verify_package
from sijil.cli.web_cmds import register_web
from sijil.cli.worker_cmds import register_worker
from sijil.errors import SijilError

__all__ = ["cli", "main"]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70  # EX_SOFTWARE


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="sijil")
def cli() -> None:
    """sijil (سجل): sealed evidence from hidden correspondents to a verified record."""


cli.add_command(field)
cli.add_command(desk)
cli.add_command(verify)
cli.add_command(verify_package)
cli.add_command(ledger)
cli.add_command(export)
cli.add_command(relay)
cli.add_command(publish)
field.add_command(send)
field.add_command(inbox)
desk.add_command(pull)
desk.add_command(reply)
register_desk_work(desk)
register_claims(desk)
register_report_links(desk)
register_vault(desk)
register_backup(desk)
register_correspondents(desk)
register_relay_token(desk)
register_passphrase(desk, field)
register_key_rotation()
desk.add_command(desk_search)
desk.add_command(migrate_encrypt)
register_web(desk)
register_worker(desk)
cli.add_command(media)
cli.add_command(scrub)


@cli.command()
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for the demo (default: a new temporary folder).",
)
def demo(home: str | None) -> None:
    """Play a scripted night of reporting from field to desk, end to end."""
    from pathlib import Path

    from sijil.cli.demo import run_demo

    run_demo(Path(home) if home else None, echo=click.echo)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; a SijilError becomes one line on stderr and a non-zero exit."""
    try:
        # a command's own status (``ctx.exit(3)``: import and pull left something to see)
        code = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="sijil",
            standalone_mode=False,
            auto_envvar_prefix="SIJIL",
        )
    except SijilError as exc:
        click.echo(f"sijil: error: {safe_text(str(exc))}", err=True)
        return EXIT_ERROR
    except click.exceptions.Abort:
        click.echo("sijil: interrupted", err=True)
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        click.echo(f"sijil: error: {safe_text(exc.format_message())}", err=True)
        return exc.exit_code if exc.exit_code else EXIT_USAGE
    except FileNotFoundError as exc:
        missing = safe_text(str(exc.filename or exc))
        click.echo(f"sijil: error: no such file or folder: {missing}", err=True)
        return EXIT_ERROR
    except PermissionError as exc:
        click.echo(
            f"sijil: error: permission denied: {safe_text(str(exc.filename or ''))}", err=True
        )
        return EXIT_ERROR
    except OSError as exc:
        click.echo(f"sijil: error: {exc.strerror or type(exc).__name__}", err=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("sijil: interrupted", err=True)
        return EXIT_INTERRUPTED
    except Exception as exc:
        # A bug, not bad input. Its message could quote a secret or a path, so
        # only the type is shown unless the operator asks for the traceback.
        if os.environ.get("SIJIL_DEBUG") == "1":
            raise
        click.echo(
            f"sijil: internal error ({type(exc).__name__}); "
            "set SIJIL_DEBUG=1 to see the traceback and please report it",
            err=True,
        )
        return EXIT_INTERNAL
    return code if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
