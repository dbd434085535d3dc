"""structlog set-up: readable on a terminal, JSON lines otherwise; called once by the CLI."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TextIO

import structlog
from structlog.typing import Processor

__all__ = ["configure_logging"]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_logging(
    *,
    level: str = "info",
    json: bool | None = None,
    file: Path | None = None,
    cache: bool = True,
) -> None:
    """Configure structlog and the stdlib root logger (aiohttp, alembic) to the same output."""
    stream: TextIO = sys.stderr
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        stream = file.open("a", encoding="utf-8", buffering=1)
    if json is None:
        json = not stream.isatty()
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    tail: list[Processor] = [structlog.processors.dict_tracebacks, renderer] if json else [renderer]
    numeric = _LEVELS[level]
    structlog.configure(
        processors=[*shared, *tail],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=cache,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric, logging.INFO))  # library debug chatter only when asked for explicitly
    if numeric == logging.DEBUG:
        root.setLevel(logging.DEBUG)
