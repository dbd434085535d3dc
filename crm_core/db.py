"""Declarative base, UTC timestamps, and engine/session factories (no engine at import time)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, event, func, make_url
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncAttrs,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "NAMING_CONVENTION",
    "Base",
    "TimestampMixin",
    "UtcDateTime",
    "cti_fold",
    "make_engine",
    "make_sessionmaker",
    "utc_now",
]

# Constraint names must not depend on the backend's own naming, or a migration written on SQLite
# cannot drop or alter the same constraint on PostgreSQL.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that stores UTC and always reads back aware UTC datetimes.

    SQLite keeps no zone, so an aware value is converted to UTC before it is written and a naive
    value read back is UTC by construction. A naive value given to us is taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(AsyncAttrs, DeclarativeBase):
    """Base of every CRM table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    """``created_at`` / ``updated_at`` in UTC, set by Python (and by the server for raw inserts)."""

    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), default=utc_now, onupdate=utc_now, server_default=func.now()
    )


def make_engine(url: str, echo: bool = False, **kwargs: Any) -> AsyncEngine:
    """Create the async engine for *url*; extra keyword arguments go to ``create_async_engine``.

    For a SQLite file the parent directory is created, and every connection gets WAL (readers do
    not block the writer) and enforced foreign keys.
    """
    parsed = make_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if (
        is_sqlite
        and parsed.database
        and parsed.database != ":memory:"
        and not parsed.database.startswith("file:")
    ):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    if is_sqlite:
        # One writer at a time: others wait for the lock (seconds) instead of failing at once.
        kwargs["connect_args"] = {"timeout": 30, **kwargs.get("connect_args", {})}
    else:
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(url, echo=echo, **kwargs)
    if is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    return engine


def cti_fold(text: str | None) -> str | None:
    """Python's full Unicode case folding, for SQLite's ``cti_fold()`` SQL function.

    SQLite's own ``lower()``, ``LIKE`` and ``NOCASE`` fold ASCII only, so "РОГА" would never find
    "Рога и копыта"; text filters compare ``cti_fold(column)`` with ``cti_fold(value)`` instead.
    NULL stays NULL, as for any SQL function.
    """
    return None if text is None else str(text).casefold()


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()
    # Deterministic: SQLite then folds a constant argument (the searched text) once per statement.
    dbapi_connection.create_function("cti_fold", 1, cti_fold, deterministic=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory: one session per unit of work, objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
