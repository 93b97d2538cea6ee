"""Desk-side relay state: the replies the desk left for correspondents at a relay."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sijil.store.models import Base, utcnow
from sijil.store.sealed import SealedText

__all__ = ["RelayReply"]


class RelayReply(Base):
    """A reply sealed to a correspondent and left in their relay mailbox."""

    __tablename__ = "relay_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    correspondent_id: Mapped[int] = mapped_column(ForeignKey("correspondents.id"), index=True)
    # the desk's own copy of what it said (the relay only ever held ciphertext): sealed
    text: Mapped[str] = mapped_column(
        "text_sealed", SealedText("relay_replies.text"), nullable=True
    )
    # where desks before sealed columns kept it in the clear; emptied when sealed
    clear_text: Mapped[str] = mapped_column("text", Text, default="")
    # SHA-256 of the sealed reply: its name in the mailbox
    sealed_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
