"""Captured correspondents: key revocations, retired keys, and reports marked for them.

* ``correspondent_revocations``: from ``since`` on, what a correspondent's key
  signs may have been signed under coercion. ``cause`` is ``revoked`` (an editor
  said so) or ``duress`` (an envelope sealed under the duress passphrase said so;
  ``report_id`` is that envelope's report).
* ``correspondent_keys``: keys a correspondent moved away from (``sijil field
  rekey``); their reports stay the same correspondent's.
* ``report_flags``: one row for each report that is possibly coerced or was sent
  under duress, and the two-person decision that may clear it for publication.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sijil.store.models import Base, utcnow

__all__ = [
    "CorrespondentKey",
    "ReportFlag",
    "ReportFlagKind",
    "Revocation",
    "RevocationCause",
]


class RevocationCause(StrEnum):
    REVOKED = "revoked"  # sijil desk correspondent revoke
    DURESS = "duress"  # an envelope sealed under the duress passphrase


class ReportFlagKind(StrEnum):
    """How a report is marked; the values are what listings print."""

    POSSIBLY_COERCED = "possibly coerced"
    DURESS = "sent under duress"


def _one_of(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Revocation(Base):
    __tablename__ = "correspondent_revocations"
    __table_args__ = (CheckConstraint(_one_of("cause", RevocationCause), name="cause"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    correspondent_id: Mapped[int] = mapped_column(ForeignKey("correspondents.id"), index=True)
    since: Mapped[datetime]
    cause: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class CorrespondentKey(Base):
    __tablename__ = "correspondent_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    correspondent_id: Mapped[int] = mapped_column(ForeignKey("correspondents.id"), index=True)
    sign_key: Mapped[str] = mapped_column(String(64), unique=True)
    reply_key: Mapped[str | None] = mapped_column(String(64))
    retired_at: Mapped[datetime]
    # the report whose signed manifest carried the rekey statement
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))


class ReportFlag(Base):
    __tablename__ = "report_flags"
    __table_args__ = (CheckConstraint(_one_of("kind", ReportFlagKind), name="kind"),)

    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    revocation_id: Mapped[int] = mapped_column(ForeignKey("correspondent_revocations.id"))
    # the two people who decided it may be published anyway (both, or it may not)
    cleared_by: Mapped[int | None] = mapped_column(ForeignKey("desk_users.id"))
    cleared_second_by: Mapped[int | None] = mapped_column(ForeignKey("desk_users.id"))
    cleared_at: Mapped[datetime | None]
