"""UCDP GED as a monitor's records, on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from claims_helpers import GED_FILE, ged_csv, ged_slice, ledger_data, shared_store
from desk_work_helpers import Desk
from sijil.crypto.canonical import canonical_json
from sijil.desk.csvrows import BadRow
from sijil.desk.monitors import GED_COLUMNS, MonitorImport, import_ged, record_digest
from sijil.errors import MalformedImport, PermissionDenied
from sijil.store import LedgerEntry, MonitorRecord, Source, Store

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


class Imported:
    def __init__(self, desk: Desk, first: MonitorImport, progress: list[int]) -> None:
        self.desk, self.first, self.progress = desk, first, progress


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def ged(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Imported]:
    """A desk that imported the whole GED Syria slice, once per database."""
    if not CORPUS.is_dir():
        pytest.skip("test corpus not found")
    for store in shared_store(request, tmp_path_factory.mktemp("ged")):
        desk = Desk(store)
        desk.users(amal="admin editor")
        seen: list[int] = []
        with CORPUS.joinpath(*GED_FILE).open("rb") as f, desk.tx() as s:
            first = import_ged(s, f, by="amal", clock=desk.clock, progress=seen.append)
        yield Imported(desk, first, seen)


pytestmark = pytest.mark.xdist_group("ged")


def test_the_whole_ged_slice_becomes_16566_records_of_one_monitor(ged: Imported) -> None:
    assert (ged.first.added, ged.first.unchanged, ged.first.bad) == (16_566, 0, [])
    assert (ged.first.source, ged.first.batches) == ("S-1", 9)
    assert ged.progress == list(range(2000, 16_566, 2000))
    with ged.desk.store.session() as s:
        assert s.scalar(select(func.count()).select_from(MonitorRecord)) == 16_566
        source = s.scalars(select(Source)).one()
        assert (source.kind, source.name) == ("monitor", "UCDP GED 19.1")
        # the README's figure: 1,424 events in Ar Raqqah Governorate
        raqqa = s.scalar(select(func.count()).where(MonitorRecord.governorate == "SY11"))
        assert raqqa == 1_424
        # the file's first event, field by field; coordinates as exact microdegrees
        first = s.scalars(select(MonitorRecord).where(MonitorRecord.external_id == 214797)).one()
        got = {c: getattr(first, c) for c in ("violence_type", "date_start", "date_end",
               "date_prec", "where_prec", "where_name", "adm_1", "adm_2", "governorate",
               "lat_e6", "lon_e6", "side_a", "side_b", "deaths_a", "deaths_b",
               "deaths_civilians", "deaths_unknown", "low", "best", "high")}  # fmt: skip
    assert got == {
        "violence_type": 1, "date_start": date(2016, 1, 1), "date_end": date(2016, 1, 1),
        "date_prec": 1, "where_prec": 1, "where_name": "Teir Maaleh village",
        "adm_1": "Homs Governorate", "adm_2": "Ar Rastan district", "governorate": "SY04",
        "lat_e6": 34_802_462, "lon_e6": 36_707_602, "side_a": "Government of Syria",
        "side_b": "Syrian insurgents", "deaths_a": 2, "deaths_b": 2, "deaths_civilians": 0,
        "deaths_unknown": 0, "low": 4, "best": 4, "high": 4,
    }  # fmt: skip


def test_each_batch_is_one_ledger_entry_with_the_digest_of_its_rows(ged: Imported) -> None:
    batches = [d for _, _, d in ledger_data(ged.desk.store) if d["action"] == "monitor.imported"]
    assert [d["batch"] for d in batches] == list(range(1, 10))
    assert sum(int(str(d["records"])) for d in batches) == 16_566
    # the first batch's digest is the digest of its rows' digests, in file order
    with ged.desk.store.session() as s:
        digests = s.scalars(select(MonitorRecord.row_sha256).order_by(MonitorRecord.id).limit(2000))
        expected = hashlib.sha256(canonical_json(list(digests))).hexdigest()
    assert batches[0]["rows_sha256"] == expected
    assert (batches[0]["first"], batches[0]["records"]) == (214797, 2000)


def test_reimporting_ged_changes_nothing(ged: Imported) -> None:
    store = ged.desk.store
    with store.session() as s:
        before = s.scalar(select(func.count()).select_from(LedgerEntry))
    with CORPUS.joinpath(*GED_FILE).open("rb") as f, ged.desk.tx() as s:
        again = import_ged(s, f, by="amal", clock=ged.desk.clock)
    assert (again.added, again.unchanged, again.bad, again.batches) == (0, 16_566, [], 0)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == before
        assert s.scalar(select(func.count()).select_from(MonitorRecord)) == 16_566


# --- small files ---------------------------------------------------------------------


@pytest.fixture
def desk(store: Store) -> Desk:
    d = Desk(store)
    d.users(amal="admin editor", omar="viewer")
    return d


def _import(desk: Desk, data: bytes, **kw: object) -> MonitorImport:
    with desk.tx() as s:
        return import_ged(s, io.BytesIO(data), by="amal", clock=desk.clock, **kw)  # type: ignore[arg-type]


def _records(desk: Desk) -> int:
    with desk.store.session() as s:
        return s.scalar(select(func.count()).select_from(MonitorRecord)) or 0


def test_a_file_missing_columns_is_refused_naming_them(desk: Desk, corpus: Path) -> None:
    header, rows = ged_slice(corpus, 3)
    drop = {header.index("best"), header.index("where_prec")}
    cut = [[v for i, v in enumerate(r) if i not in drop] for r in [header, *rows]]
    with pytest.raises(MalformedImport, match=r"^the GED file lacks the columns where_prec, best$"):
        _import(desk, ged_csv(cut[0], cut[1:]))
    with pytest.raises(MalformedImport, match="lacks the columns"):  # even with no rows at all
        _import(desk, ged_csv(cut[0], []))
    assert _records(desk) == 0
    assert set(GED_COLUMNS) <= set(header)


def test_a_bad_row_is_named_by_its_line_and_the_rest_go_in(desk: Desk, corpus: Path) -> None:
    header, rows = ged_slice(corpus, 4)
    # a headline with a line break makes record 2 two lines long; record 3 has a bad death count
    rows[1][header.index("source_headline")] = "Shelling\nin Homs"
    rows[2][header.index("deaths_civilians")] = "many"
    result = _import(desk, ged_csv(header, rows, gz=False), batch_size=2)
    assert result.bad == [BadRow(5, "deaths_civilians 'many' is not a whole number from 0 to "
                                    f"{2**53 - 1}")]  # fmt: skip
    assert (result.added, result.batches, _records(desk)) == (3, 2, 3)


def test_changed_values_under_a_known_id_are_reported_not_overwritten(
    desk: Desk, corpus: Path
) -> None:
    header, rows = ged_slice(corpus, 2)
    _import(desk, ged_csv(header, rows))
    rows[1][header.index("best")] = "400"
    result = _import(desk, ged_csv(header, rows))
    assert (result.added, result.unchanged) == (0, 1)
    assert [b.line for b in result.bad] == [3] and "other values" in result.bad[0].reason
    with desk.store.session() as s:
        assert 400 not in s.scalars(select(MonitorRecord.best)).all()


def test_a_damaged_gzip_is_refused_and_nothing_is_kept(desk: Desk, corpus: Path) -> None:
    header, rows = ged_slice(corpus, 50)
    data = ged_csv(header, rows)
    with pytest.raises(MalformedImport, match="the GED file cannot be read"):
        _import(desk, data[: len(data) // 2])
    assert _records(desk) == 0
    assert gzip.decompress(data).startswith(b"id,year,")


def test_a_monitor_is_named_and_the_importer_needs_desk_work_rights(
    desk: Desk, corpus: Path
) -> None:
    header, rows = ged_slice(corpus, 1)
    with pytest.raises(PermissionDenied), desk.tx() as s:
        import_ged(s, io.BytesIO(ged_csv(header, rows)), by="omar")
    done = _import(desk, ged_csv(header, rows), name="UCDP GED 20.1")
    with desk.store.session() as s:
        assert s.scalar(select(Source.name)) == "UCDP GED 20.1"
    assert done.source == "S-1" and done.added == 1


def test_a_record_changed_behind_the_ledgers_back_no_longer_matches_its_digest(
    desk: Desk, corpus: Path
) -> None:
    # Given records imported, each digest recomputes from the stored columns
    header, rows = ged_slice(corpus, 5)
    _import(desk, ged_csv(header, rows))
    with desk.store.session() as s:
        stored = s.scalars(select(MonitorRecord).order_by(MonitorRecord.id)).all()
        assert all(record_digest(r) == r.row_sha256 for r in stored)
        (batch,) = [d for _, _, d in ledger_data(desk.store) if d["action"] == "monitor.imported"]
        digests = [r.row_sha256 for r in stored]
    assert batch["rows_sha256"] == hashlib.sha256(canonical_json(digests)).hexdigest()
    # When someone raises a death toll in the database directly
    with desk.tx() as s:
        s.execute(update(MonitorRecord).where(MonitorRecord.external_id == 214797).values(best=40))
    # Then that record no longer matches the digest its ledger batch vouches for
    with desk.store.session() as s:
        changed = [
            r.external_id
            for r in s.scalars(select(MonitorRecord))
            if record_digest(r) != r.row_sha256
        ]
    assert changed == [214797]
