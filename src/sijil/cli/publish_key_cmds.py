"""``sijil publish key init`` and ``sijil publish verify``: the publication key and checks."""

from __future__ import annotations

from pathlib import Path

import click

from sijil.cli.options import DESK_HOME, desk_at
from sijil.cli.passphrase import read_passphrase
from sijil.crypto.kdf import DEFAULT_KDF
from sijil.publish.keys import DEFAULT_ORIGIN

__all__ = ["register_publish_keys"]


@click.group(name="key")
def key_group() -> None:
    """The publication key: signs posts and the log, separate from the desk's ledger key."""


@key_group.command(name="init")
@DESK_HOME
@click.option(
    "--origin",
    default=DEFAULT_ORIGIN,
    show_default=True,
    help="The publication log's origin (first line of its checkpoint), e.g. example.org/log.",
)
def key_init(home: Path, origin: str) -> None:
    """Make the desk's publication key, locked under the desk passphrase."""
    from sijil.publish.keys import PublicationKey, check_origin

    desk_home = desk_at(home)
    desk_home.require()
    check_origin(origin)
    passphrase = read_passphrase("the desk key")
    # the same passphrase as desk.key: one secret to keep, and a typo is caught here
    desk_home.unlock(passphrase)
    key = PublicationKey.init(desk_home, passphrase, DEFAULT_KDF, origin=origin)
    public = key.public
    click.echo(f"publication key {public.key_id_hex} made; log origin {public.origin}")
    click.echo(public.minisign_public().splitlines()[1])
    click.echo(public.ssh_public().rstrip("\n"))
    click.echo("publish these where readers can compare them with the site's keys/ folder")


@click.command(name="verify")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A minisign public key you trust (got elsewhere); default: the site's own.",
)
@click.option(
    "--since",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With a site folder: a log/checkpoint kept earlier; the log must only have grown.",
)
def verify_cmd(file: Path, key_file: Path | None, since: Path | None) -> None:
    """Check a post (posts/N.json) or, given the site folder, the whole publication log."""
    from sijil.publish.verify import verify_log, verify_post

    if key_file is None:
        click.echo(
            "note: checking against the site's own keys/publication.pub;"
            " pin a key you got elsewhere with --key",
            err=True,
        )
    if file.is_dir():
        earlier = since.read_bytes() if since is not None else None
        log = verify_log(file, public_key=key_file, since=earlier)
        click.echo(
            f"ok: the publication log of {log.origin} ({log.size} entries) matches its"
            f" signed checkpoint, key {log.key_id}; {log.posts_checked} posts match their entries"
        )
        return
    if since is not None:
        raise click.UsageError("--since goes with a site folder, not a post")
    post = verify_post(file, public_key=key_file)
    click.echo(
        f"ok: {file.name} is signed by key {post.key_id} (minisign and SSH) and is entry"
        f" {post.log_index} of the publication log of {post.origin} ({post.log_size} entries)"
    )
    click.echo(f"trusted comment: {post.trusted_comment}")


def register_publish_keys(publish: click.Group) -> None:
    publish.add_command(key_group)
    publish.add_command(verify_cmd)
