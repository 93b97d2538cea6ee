"""``sijil publish ...``: the public record (docs/publish.md).

The group is assembled here from one module per concern, so each stays small:
keys and verification, posting through the safety gate, and building the site.
"""

from __future__ import annotations

import click

__all__ = ["publish"]


@click.group()
def publish() -> None:
    """Publish reviewed work: signed posts, the publication log, the static site."""


from sijil.cli.publish_key_cmds import register_publish_keys  # noqa: E402

register_publish_keys(publish)

from sijil.cli.publish_post_cmds import register_publish_posting  # noqa: E402

register_publish_posting(publish)

from sijil.cli.publish_site_cmds import register_publish_site  # noqa: E402

register_publish_site(publish)
