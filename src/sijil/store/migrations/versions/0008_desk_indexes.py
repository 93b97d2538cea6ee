"""Indexes for the desk's searches: incident suggestions and filtered incident lists.

Revision ID: 0008
Revises: 0007

- ``reports (created_at, latitude, longitude)``: the reports written in a window
  of days, their coordinates read from the index itself (sijil.desk.nearby);
- ``monitor_records (date_prec, date_start)``: the few records spanning a month
  or a year (UCDP ``date_prec`` 4 and 5), fetched apart from the day-precise ones;
- ``places (lat_e6, lon_e6)``: the gazetteer place nearest to coordinates;
- ``incidents (governorate, grading, start_at)`` and ``(place_id, start_at)``:
  ``incident list`` by governorate or place, grading and dates, newest first,
  read in index order.

Indexes only, the same on SQLite and PostgreSQL; bench/desk.py measures each
query with and without them.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (table, columns) of each index; its name follows the naming convention.
INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("reports", ("created_at", "latitude", "longitude")),
    ("monitor_records", ("date_prec", "date_start")),
    ("places", ("lat_e6", "lon_e6")),
    ("incidents", ("governorate", "grading", "start_at")),
    ("incidents", ("place_id", "start_at")),
)


def index_name(table: str, columns: Sequence[str]) -> str:
    return f"ix_{table}_{'_'.join(columns)}"


def upgrade() -> None:
    for table, columns in INDEXES:
        op.create_index(op.f(index_name(table, columns)), table, list(columns))


def downgrade() -> None:
    for table, columns in reversed(INDEXES):
        op.drop_index(op.f(index_name(table, columns)), table_name=table)
