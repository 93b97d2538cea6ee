"""``sijil relay``: the small exposed server that takes envelopes and holds no key."""

from __future__ import annotations

from pathlib import Path

import click

from sijil.relay.server import config as defaults
from sijil.relay.server.config import RelayConfig, load_relay_token_file

__all__ = ["relay"]

MB = 1 << 20


@click.group()
def relay() -> None:
    """The relay: resumable uploads (tus 1.0), desk pull, reply mailboxes."""


@relay.command()
@click.option(
    "--spool",
    required=True,
    envvar="SIJIL_RELAY_SPOOL",
    show_envvar=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for uploads, envelopes and mailboxes.",
)
@click.option(
    "--desk-key",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The desk's public-key file (desk.pub); only pulls signed by it are served.",
)
@click.option("--host", default="127.0.0.1", help="Address to listen on (local behind Tor).")
@click.option("--port", default=8470, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option(
    "--max-envelope-mb",
    default=defaults.DEFAULT_MAX_ENVELOPE_BYTES // MB,
    type=click.IntRange(1),
    help="Largest envelope accepted, in MiB.",
)
@click.option(
    "--max-concurrent",
    default=defaults.DEFAULT_MAX_CONCURRENT,
    type=click.IntRange(1),
    help="Uploads receiving data at the same time.",
)
@click.option(
    "--max-unfinished",
    default=defaults.DEFAULT_MAX_UNFINISHED,
    type=click.IntRange(1),
    help="Unfinished uploads kept at once.",
)
@click.option(
    "--expiry-hours",
    default=defaults.DEFAULT_EXPIRY_S / 3600,
    type=click.FloatRange(min=0.001),
    help="An unfinished upload idle this long is deleted.",
)
@click.option(
    "--rate", default=defaults.DEFAULT_RATE, type=click.FloatRange(min=0.1), help="Requests/s."
)
@click.option(
    "--burst", default=defaults.DEFAULT_BURST, type=click.IntRange(1), help="Request burst."
)
@click.option(
    "--idle-timeout",
    default=defaults.DEFAULT_IDLE_TIMEOUT_S,
    type=click.FloatRange(min=0.1),
    help="Seconds a request body may stall before it is cut (what came is kept).",
)
@click.option(
    "--quota-mb",
    default=defaults.DEFAULT_SPOOL_QUOTA_BYTES // MB,
    type=click.IntRange(0),
    help="Cap the spool's size in MiB (0: only the disk is the limit).",
)
@click.option(
    "--token-file",
    envvar="SIJIL_RELAY_TOKEN_FILE",
    show_envvar=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The network's relay tokens (from the desk), one a line: senders carrying one "
    "use capacity kept from strangers.",
)
def serve(
    spool: Path,
    desk_key: Path,
    host: str,
    port: int,
    max_envelope_mb: int,
    max_concurrent: int,
    max_unfinished: int,
    expiry_hours: float,
    rate: float,
    burst: int,
    idle_timeout: float,
    quota_mb: int,
    token_file: Path | None,
) -> None:
    """Serve the relay until interrupted. Logs hold no client address or User-Agent."""
    from sijil.relay.server.serve import serve as run

    tokens = {} if token_file is None else load_relay_token_file(token_file)
    config = RelayConfig.from_desk_file(
        desk_key,
        spool=spool,
        max_envelope_bytes=max_envelope_mb * MB,
        max_concurrent_uploads=max_concurrent,
        max_unfinished_uploads=max_unfinished,
        expiry_s=expiry_hours * 3600,
        rate_per_s=rate,
        rate_burst=burst,
        idle_timeout_s=idle_timeout,
        spool_quota_bytes=quota_mb * MB or None,
        relay_tokens=frozenset(tokens),
        relay_token_until={d: t for d, t in tokens.items() if t is not None},
    )
    click.echo(f"sijil relay: listening on port {port}; spool {spool}", err=True)
    run(config, host=host, port=port)
