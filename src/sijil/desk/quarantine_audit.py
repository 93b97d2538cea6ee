"""The audit's quarantine checks (part of ``sijil verify``, :mod:`sijil.desk.audit`).

- Every quarantine row matches its newest ``input.quarantined`` entry (a retry that
  failed again logs the new reason under the same item), field by field; size and
  channel are compared where the entry has them (entries before migration 0005
  do not).
- A released row has an ``input.released`` entry with the same facts; a row still
  quarantined has none (flipping the state back would hide a release).
- Every item's bytes are there and intact: its vault blob decrypts and hashes to
  its sha256; a row of an older desk, its clear file under ``quarantine/`` does.
- The other way round: every item an entry names still has its row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.desk.records import (
    INPUT_SALT,
    QUARANTINE_FACTS_SINCE_0005,
    SALTED,
    quarantine_facts,
    release_facts,
)
from sijil.errors import ConfigError
from sijil.fsutil import confine, sha256_file
from sijil.ledger.entries import Entry, EntryKind
from sijil.store import LedgerSalt, QuarantineItem
from sijil.store.models import QuarantineState
from sijil.vault import Vault

__all__ = ["QuarantineAudit", "audit_quarantine"]

Entries = dict[tuple[EntryKind, str], list[Entry]]
# entries whose salts one query asks for: under every backend's bound-parameter limit
_SALT_BATCH = 5000


@dataclass
class QuarantineAudit:
    records: int = 0
    problems: list[str] = field(default_factory=list)
    # vault addresses quarantine rows account for (they have no vault_blobs row)
    blobs: set[str] = field(default_factory=set)
    # rows whose clear file was not checked: the desk's folder is unknown
    unchecked: int = 0


# kind -> item id -> its entries (salted entries are not found by the input's hash)
ByItem = dict[EntryKind, dict[object, list[Entry]]]
# seq -> the salt of the entry's input hash
Salts = dict[int, bytes]


def _by_item(entries: Entries) -> ByItem:
    found: ByItem = {EntryKind.INPUT_QUARANTINED: {}, EntryKind.INPUT_RELEASED: {}}
    for (kind, _subject), listed in entries.items():
        if kind in found:
            for entry in listed:
                found[kind].setdefault(entry.data.get("item"), []).append(entry)
    return found


def _logged(by_item: ByItem, kind: EntryKind, item: QuarantineItem) -> Entry | None:
    """The newest entry of ``kind`` about ``item``, or None."""
    found = by_item[kind].get(item.id, [])
    return max(found, key=lambda e: e.seq) if found else None


def _salt(entry: Entry, salts: Salts) -> bytes | None:
    if entry.data.get(SALTED) is not True:
        return None
    # a salted entry whose salt is gone compares against a salt that cannot match
    return salts.get(entry.seq, b"")


def _load_salts(session: Session, by_item: ByItem) -> Salts:
    seqs = [
        e.seq
        for per_kind in by_item.values()
        for listed in per_kind.values()
        for e in listed
        if e.data.get(SALTED) is True
    ]
    salts: Salts = {}
    for start in range(0, len(seqs), _SALT_BATCH):
        rows = session.execute(
            select(LedgerSalt.seq, LedgerSalt.salt).where(
                LedgerSalt.seq.in_(seqs[start : start + _SALT_BATCH]),
                LedgerSalt.name == INPUT_SALT,
            )
        )
        salts.update((int(seq), bytes(salt)) for seq, salt in rows)
    return salts


def _compare(where: str, entry: Entry, facts: dict[str, object], result: QuarantineAudit) -> None:
    for name, value in facts.items():
        if name in QUARANTINE_FACTS_SINCE_0005 and name not in entry.data:
            continue  # logged before 0005 recorded it
        if entry.data.get(name) != value:
            result.problems.append(
                f"{where}: field {name!r} differs from its ledger entry #{entry.seq}"
            )


def _check_logged(
    where: str, kept: QuarantineItem, by_item: ByItem, salts: Salts, result: QuarantineAudit
) -> None:
    quarantined = _logged(by_item, EntryKind.INPUT_QUARANTINED, kept)
    if quarantined is None:
        result.problems.append(f"{where}: no ledger entry records it")
    else:
        facts = quarantine_facts(kept, _salt(quarantined, salts))
        _compare(where, quarantined, facts, result)
    released = _logged(by_item, EntryKind.INPUT_RELEASED, kept)
    if kept.state == QuarantineState.RELEASED:
        if released is None:
            result.problems.append(f"{where}: marked released, but no ledger entry records it")
        else:
            _compare(where, released, release_facts(kept, _salt(released, salts)), result)
    elif released is not None:
        result.problems.append(
            f"{where}: ledger entry #{released.seq} records its release, "
            f"but its state is now {kept.state!r}"
        )


def _legacy_problem(home: Path, kept: QuarantineItem) -> str | None:
    try:
        found = sha256_file(confine(home, kept.stored_path or ""))
    except ConfigError:
        return "its stored path leaves the desk's folder"
    except FileNotFoundError:
        return "its stored file is missing from the quarantine folder"
    except OSError as exc:
        return f"its stored file is unreadable: {exc.strerror or type(exc).__name__}"
    return None if found == kept.sha256 else "its stored file no longer hashes to its sha256"


def _vault_problem(vault: Vault, kept: QuarantineItem) -> str | None:
    problem = vault.check(kept.sha256)
    if problem is None:
        return None
    if not vault.has(kept.sha256):
        return "its stored file is missing from the vault"
    if problem.startswith("altered"):
        return f"its stored file no longer hashes to its sha256 (vault blob {problem})"
    return f"its stored file is {problem}"


def audit_quarantine(
    session: Session, vault: Vault, home: Path | None, entries: Entries
) -> QuarantineAudit:
    """Check every quarantine row against the ledger and its kept bytes."""
    result = QuarantineAudit()
    by_item = _by_item(entries)
    salts = _load_salts(session, by_item)
    seen: set[int] = set()
    # the same bytes quarantined twice share one blob (or file): check it once
    checked: dict[tuple[str | None, str], str | None] = {}
    for kept in session.scalars(select(QuarantineItem).order_by(QuarantineItem.id)):
        result.records += 1
        seen.add(kept.id)
        where = f"quarantine item #{kept.id} ({kept.source_name})"
        _check_logged(where, kept, by_item, salts, result)
        key = (kept.stored_path, kept.sha256)
        if kept.stored_path is None:
            result.blobs.add(kept.sha256)
            if key not in checked:
                checked[key] = _vault_problem(vault, kept)
        elif home is None:
            result.unchecked += 1
            continue
        elif key not in checked:
            checked[key] = _legacy_problem(home, kept)
        if checked[key] is not None:
            result.problems.append(f"{where}: {checked[key]}")
    named: dict[object, Entry] = {}
    for kind in (EntryKind.INPUT_QUARANTINED, EntryKind.INPUT_RELEASED):
        for (logged_kind, _), found in entries.items():
            if logged_kind is kind:
                for entry in found:
                    named.setdefault(entry.data.get("item"), entry)
    for item_id, entry in sorted(named.items(), key=lambda pair: pair[1].seq):
        if item_id not in seen:
            # a salted entry's subject is a commitment, not the input's sha256: say which
            named_by = "commitment" if entry.data.get(SALTED) is True else "sha256"
            result.problems.append(
                f"quarantine item #{item_id} ({named_by} {entry.subject[:12]}): recorded in "
                f"ledger entry #{entry.seq}, but its record is missing"
            )
    return result
