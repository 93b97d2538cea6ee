"""Columns sealed by the desk itself (sijil.crypto.sealed_value), on every backend.

A column typed ``Sealed(slot, codec)`` holds ``ValueSealer.seal(value)`` bytes; the
ORM seals on the way in and opens on the way out, so code reads ``report.latitude``
as it always did. The sealer belongs to the engine (``attach_sealer``, done by
``Store.open`` when given the desk's key): a store opened without the key can
read every other column, and touching a sealed one fails in one line that says
what is needed. Nothing here is module state: two desks in one process each have
their own engine and sealer.

Sealed columns cannot be compared or sorted in SQL; the desk keeps in the clear
only what it queries by (a position rounded to about a kilometre, for example).
"""

from __future__ import annotations

import struct
from typing import Any, Generic, TypeVar

from sqlalchemy import LargeBinary
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.types import TypeDecorator

from sijil.crypto.sealed_value import ValueSealer
from sijil.errors import StoreError

__all__ = [
    "COARSE_DECIMALS",
    "LOCKED",
    "DeskLocked",
    "Sealed",
    "SealedBytes",
    "SealedFloat",
    "SealedText",
    "attach_sealer",
    "coarse",
    "sealer_of",
]

T = TypeVar("T")

LOCKED = (
    "this needs the desk's passphrase (SIJIL_PASSPHRASE or the prompt): the value is "
    "sealed in the database"
)
_ATTRIBUTE = "sijil_value_sealer"
# A position kept in the clear is rounded to this many decimal places of a degree:
# 0.01 degree is 1.1 km of latitude (less of longitude away from the equator), enough
# for "reports near an incident" and too coarse to name a rooftop or a house.
COARSE_DECIMALS = 2


def coarse(degrees: float | None) -> float | None:
    """A latitude or longitude rounded for keeping in the clear."""
    return None if degrees is None else round(float(degrees), COARSE_DECIMALS)


class DeskLocked(StoreError):
    """A sealed column read or written through a store opened without the desk's key."""


def attach_sealer(engine: Engine, sealer: ValueSealer) -> None:
    """Let every sealed column of ``engine`` seal and open with ``sealer``."""
    setattr(engine.dialect, _ATTRIBUTE, sealer)


def sealer_of(dialect: Dialect) -> ValueSealer | None:
    found = getattr(dialect, _ATTRIBUTE, None)
    return found if isinstance(found, ValueSealer) else None


def _sealer(dialect: Dialect) -> ValueSealer:
    found = sealer_of(dialect)
    if found is None:
        raise DeskLocked(LOCKED)
    return found


class Sealed(TypeDecorator[T], Generic[T]):
    """Bytes in the database, a ``T`` in Python; ``slot`` names it in the sealing."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, slot: str) -> None:
        super().__init__()
        self.slot = slot

    def encode(self, value: T) -> bytes:
        raise NotImplementedError

    def decode(self, raw: bytes) -> T:
        raise NotImplementedError

    def process_bind_param(self, value: T | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        return _sealer(dialect).seal(self.encode(value), self.slot)

    def process_result_value(self, value: Any, dialect: Dialect) -> T | None:
        if value is None:
            return None
        return self.decode(_sealer(dialect).open(bytes(value), self.slot))


class SealedText(Sealed[str]):
    cache_ok = True

    def encode(self, value: str) -> bytes:
        return value.encode("utf-8")

    def decode(self, raw: bytes) -> str:
        return raw.decode("utf-8")


class SealedFloat(Sealed[float]):
    cache_ok = True

    # IEEE 754 double, exactly as the database's own float would have kept it
    def encode(self, value: float) -> bytes:
        return struct.pack(">d", float(value))

    def decode(self, raw: bytes) -> float:
        (number,) = struct.unpack(">d", raw)
        return float(number)


class SealedBytes(Sealed[bytes]):
    cache_ok = True

    def encode(self, value: bytes) -> bytes:
        return bytes(value)

    def decode(self, raw: bytes) -> bytes:
        return raw
