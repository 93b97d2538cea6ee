"""Who works on what: a report or an incident assigned to one desk user.

``assignments`` holds the current assignment of each report or incident (at most
one person each); assigning again replaces it, unassigning deletes the row. The
history is in the custody ledger (``assignment.set`` / ``assignment.cleared``
entries, sijil.desk.assignments).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sijil.store.models import Base, utcnow

__all__ = ["Assignment", "AssignmentKind"]


class AssignmentKind(StrEnum):
    """What can be assigned."""

    REPORT = "report"
    INCIDENT = "incident"


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        CheckConstraint(
            f"kind IN ({', '.join(repr(str(k)) for k in AssignmentKind)})", name="kind"
        ),
    )

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    # a report's or an incident's id (which table follows from ``kind``)
    object_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("desk_users.id"), index=True)
    assigned_by: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
