"""The dialplan's history: every applied version, newest last. Callers own the session and commit.

Versions are only ever added. A rollback adds a new version carrying an old one's text, so the
history reads as what actually ran, in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from cti.plan import text_sha256

from .errors import Invalid, NotFound
from .models import DialplanSource, DialplanVersion

__all__ = [
    "VersionInfo",
    "add_version",
    "get_version",
    "latest_version",
    "list_versions",
]

_SOURCES = tuple(source.value for source in DialplanSource)


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One applied version as the outside sees it (``text`` is "" in listings)."""

    id: int
    sha256: str
    applied_at: datetime
    applied_by_id: int | None
    applied_by_name: str
    source: str
    comment: str
    rolled_back_from: int | None
    text: str = ""


def _out(version: DialplanVersion, *, with_text: bool) -> VersionInfo:
    return VersionInfo(
        id=version.id,
        sha256=version.sha256,
        applied_at=version.applied_at,
        applied_by_id=version.applied_by_id,
        applied_by_name=version.applied_by_name,
        source=version.source,
        comment=version.comment,
        rolled_back_from=version.rolled_back_from,
        text=version.text if with_text else "",
    )


async def add_version(
    session: AsyncSession,
    *,
    text: str,
    source: str,
    applied_by_name: str,
    applied_by_id: int | None = None,
    comment: str = "",
    rolled_back_from: int | None = None,
) -> VersionInfo:
    """Add a version to *session*'s transaction (flushed, so it has its id; not committed)."""
    if source not in _SOURCES:
        raise Invalid("source", source, _SOURCES)
    version = DialplanVersion(
        text=text,
        sha256=text_sha256(text),
        source=source,
        applied_by_name=applied_by_name,
        applied_by_id=applied_by_id,
        comment=comment,
        rolled_back_from=rolled_back_from,
    )
    session.add(version)
    await session.flush()
    return _out(version, with_text=True)


async def get_version(session: AsyncSession, version_id: int) -> VersionInfo:
    """The version with its text; NotFound when there is none with this id."""
    version = await session.get(DialplanVersion, version_id)
    if version is None:
        raise NotFound("dialplan version", version_id)
    return _out(version, with_text=True)


async def latest_version(session: AsyncSession) -> VersionInfo | None:
    """The version applied last, with its text, or None before the first apply."""
    version = await session.scalar(select(DialplanVersion).order_by(DialplanVersion.id.desc()).limit(1))
    return None if version is None else _out(version, with_text=True)


async def list_versions(session: AsyncSession, *, limit: int = 50) -> list[VersionInfo]:
    """The newest versions first, without their texts."""
    stmt = (
        select(DialplanVersion)
        .options(defer(DialplanVersion.text))
        .order_by(DialplanVersion.id.desc())
        .limit(limit)
    )
    return [_out(version, with_text=False) for version in await session.scalars(stmt)]
