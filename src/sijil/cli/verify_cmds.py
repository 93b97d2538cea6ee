"""``sijil verify``, ``sijil verify-package`` and ``sijil ledger``: audit and custody."""

from __future__ import annotations

from pathlib import Path

import click

from sijil.cli.display import safe_text
from sijil.cli.options import DB, DESK_HOME, desk_at
from sijil.cli.passphrase import read_passphrase
from sijil.errors import AuditFailed, PackageError
from sijil.export.verifier import OPENSSL_TIMEOUT_S

__all__ = ["ledger", "verify", "verify_package"]

HOME = DESK_HOME


@click.command()
@HOME
@DB
def verify(home: Path, db_url: str | None) -> None:
    """Audit the desk: vault blobs, evidence records, ledger and signed tree heads."""
    from sijil.desk.audit import audit_desk
    from sijil.ledger.timestamp import TsaConfig

    desk_home = desk_at(home, db_url)
    identity = desk_home.unlock(read_passphrase("the desk key"))
    tsa = TsaConfig.load(desk_home.tsa_config)
    with desk_home.open_store(identity) as store:
        result = audit_desk(
            store,
            desk_home.open_vault(identity),
            identity.sign.public_key(),
            tsa_ca=None if tsa is None else tsa.ca_pem,
            home=desk_home.root,
        )
    for problem in result.problems:
        click.echo(f"PROBLEM  {safe_text(problem)}")
    for note in result.notes:
        click.echo(f"note     {safe_text(note)}")
    click.echo(
        f"checked {result.entries} ledger entries, {result.heads} signed tree heads, "
        f"{result.records} records, {result.blobs} vault blobs"
    )
    if result.problems:
        raise AuditFailed(f"{len(result.problems)} problem(s) found; see above")
    if result.unrecorded:
        # kept bytes without a record: nothing recorded is lost, but these need a person
        click.echo(
            f"OK: nothing altered, nothing recorded lost; {result.unrecorded} kept file(s) "
            "have no record yet (named above)"
        )
        return
    click.echo("OK: nothing lost, nothing altered")


@click.command(name="verify-package")
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--desk-key",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The desk's public-key file (desk.pub), obtained independently of the package.",
)
@click.option(
    "--tsa-ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The timestamp authority's root certificate (PEM), obtained from the authority; "
    "without it a timestamp is reported as present but not checked.",
)
@click.option(
    "--openssl-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=OPENSSL_TIMEOUT_S,
    show_default=True,
    metavar="SECONDS",
    help="How long openssl may take to check the timestamp.",
)
def verify_package(
    package: Path, desk_key: Path, tsa_ca: Path | None, openssl_timeout: float
) -> None:
    """Check an evidence package with nothing but the desk's public key."""
    from sijil.export import verifier

    report = verifier.verify_package(
        package, desk_key, tsa_ca=tsa_ca, openssl_timeout=openssl_timeout
    )
    for line in report.lines:
        click.echo(safe_text(line))
    if report.problems:
        for problem in report.problems:
            click.echo(f"PROBLEM  {safe_text(problem)}")
        raise PackageError(f"the package does not verify: {len(report.problems)} problem(s)")
    click.echo("OK: the package verifies")


@click.group()
def ledger() -> None:
    """The custody ledger: signed tree heads and timestamps."""


@ledger.command()
@HOME
@DB
@click.option("--if-due", is_flag=True, help="Only if the schedule says one is due (for a timer).")
def head(home: Path, db_url: str | None, if_due: bool) -> None:
    """Sign a tree head of the ledger now (and timestamp it if an authority is set)."""
    from sijil.desk.signing import sign_now
    from sijil.ledger.heads import head_due
    from sijil.store import utcnow

    desk_home = desk_at(home, db_url)
    identity = desk_home.unlock(read_passphrase("the desk key"))
    with desk_home.open_store(identity) as store:
        if if_due:
            with store.session() as session:
                if not head_due(session, now=utcnow()):
                    click.echo("no tree head due")
                    return
        row = sign_now(desk_home, store, identity.sign)
    stamped = " (timestamped)" if row.timestamp_token else ""
    click.echo(f"tree head #{row.id}: size {row.tree_size}, root {row.root_hash}{stamped}")


@ledger.command(name="timestamps")
@HOME
@click.option("--url", required=True, help="RFC 3161 authority URL (http or https).")
@click.option(
    "--ca",
    "ca_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The authority's root certificate (PEM), used to verify its timestamps offline.",
)
def timestamps(home: Path, url: str, ca_file: Path) -> None:
    """Have every new tree head timestamped by an RFC 3161 authority."""
    from sijil.ledger.timestamp import TsaConfig

    desk_home = desk_at(home)
    desk_home.require()
    TsaConfig(url=url, ca_pem=ca_file.read_bytes()).save(desk_home.tsa_config)
    click.echo(f"tree heads will be timestamped by {url}")
