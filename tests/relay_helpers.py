"""Helpers the relay tests share."""

from __future__ import annotations

import os
from pathlib import Path

from sijil.envelope.sealing import Draft
from sijil.field.compose import compose
from sijil.field.home import FieldSession


def compose_random(session: FieldSession, tmp: Path, name: str, size: int) -> str:
    """Seal a report carrying ``size`` random bytes (sent as-is); return its envelope id."""
    photo = tmp / f"{name}.bin"
    photo.write_bytes(os.urandom(size))
    made = compose(
        session, Draft(title=f"report {name}", body="text", lang="en"), [photo], keep_metadata=True
    )
    return made.envelope_id
