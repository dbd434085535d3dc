"""Typed settings from ``config/cti.yaml``, with ``CTI_*`` environment overrides.

A bad file stops start-up with :class:`SettingsError`, whose message names the file, the line and
column, the key and the problem, e.g. ``config/cti.yaml:7:9: ami.port: must be an integer (got 'x')``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

__all__ = [
    "AmiSettings",
    "CrmSettings",
    "DatabaseSettings",
    "LoggingSettings",
    "PbxMode",
    "RecordingSettings",
    "RetentionPolicy",
    "Settings",
    "SettingsError",
    "SipSettings",
    "WebSettings",
    "load_settings",
]

DEFAULT_PATH = Path("config/cti.yaml")


class SettingsError(Exception):
    """The settings cannot be used; the message says where and why."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PbxMode(StrEnum):
    ASTERISK = "asterisk"
    EMBEDDED = "embedded"
    "Our own SIP PBX (pbx_adapters/sip): phones register to the daemon itself."
    NONE = "none"


class AmiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(5038, ge=1, le=65535)
    username: str = "cti"
    secret: SecretStr = SecretStr("")
    action_timeout: float = Field(5.0, gt=0, description="Seconds to wait for any action's response.")
    ping_interval: float = Field(10.0, gt=0, description="Seconds between watchdog pings.")
    ping_timeout: float = Field(5.0, gt=0, description="A ping unanswered this long means the link is dead.")
    reconnect_delay: float = Field(2.0, gt=0)
    context: str = Field(
        "from-internal", min_length=1, description="Dialplan context for calls the CTI places."
    )
    technology: str = Field("PJSIP", pattern=r"^[A-Za-z0-9]+$", description="Channel driver of the phones.")
    config_dir: Path | None = Field(
        None,
        description="Where to write the Asterisk configuration rendered from the dialplan on every apply "
        "(include it from /etc/asterisk); unset: the daemon leaves Asterisk's files alone.",
    )
    extension_pattern: str = Field(
        r"^\d{2,6}$",
        description="Endpoints (PJSIP/<endpoint>-...) whose name matches are our phones; others are trunks.",
    )

    @field_validator("extension_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        return value


class SipSettings(_Section):
    """The embedded SIP PBX (``pbx.mode: embedded``)."""

    host: str = Field("0.0.0.0", description="Address to listen on for SIP and RTP.")  # noqa: S104
    port: int = Field(5060, ge=0, le=65535, description="SIP port (UDP, and TCP when enabled); 0 picks one.")
    tcp: bool = Field(True, description="Also accept SIP over TCP (phones switch to it above ~1300 bytes).")
    advertise: str = Field(
        "", description="Address put in Via, Contact and SDP; empty: the listen address, or the primary one."
    )
    rtp_port_min: int = Field(20000, ge=1024, le=65534)
    rtp_port_max: int = Field(20999, ge=1025, le=65535)
    latch_only: bool = Field(
        False, description="Send RTP only where a phone's packets came from, never to an SDP address first."
    )
    realm: str = Field("cti", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    min_expires: int = Field(60, ge=1, description="Registrations asking for less get 423.")
    max_expires: int = Field(3600, ge=60, description="Registrations asking for more are cut to this.")
    max_contacts: int = Field(5, ge=1, le=50, description="Phones per extension.")
    max_auth_failures: int = Field(5, ge=1, description="Wrong passwords from one address, then blocked.")
    failure_window: float = Field(60.0, gt=0, description="Seconds over which failures are counted.")
    block_seconds: float = Field(300.0, gt=0, description="How long a blocked address is ignored.")
    rtp_timeout: float = Field(
        60.0, ge=0, description="Hang up a call whose phone sent no audio this long (gone, no BYE); 0: never."
    )


class PbxSettings(_Section):
    mode: PbxMode = PbxMode.EMBEDDED
    id: str = Field("main", min_length=1, max_length=40, description="Names this PBX in call records.")


class DatabaseSettings(_Section):
    url: str = "sqlite+aiosqlite:///var/cti.sqlite3"
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    secret_key_file: Path = Path("var/secret_key")
    cookie_secure: bool = False
    session_hours: int = Field(12, ge=1, le=24 * 30)
    default_locale: Literal["en", "ru"] = Field(
        "en", description="Pages' language for users who chose none and browsers that ask for neither."
    )
    timezone: str = Field(
        "", description="The office's zone for the pages' times (IANA name); empty: the dialplan's timezone."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r} (an IANA name, e.g. Europe/Moscow)") from None
        return value


class RetentionPolicy(_Section):
    """Keep a call's recordings *days* days; the first policy whose conditions all match wins."""

    direction: Literal["inbound", "outbound", "internal"] | None = None
    did: str | None = Field(None, min_length=1, description="Our number (the line) the caller dialled.")
    days: int = Field(ge=1)


class RecordingSettings(_Section):
    directory: Path = Path("var/recordings")
    format: Literal["mp3", "opus"] = "mp3"
    bitrate: str = Field("32k", pattern=r"^[1-9][0-9]{0,3}k$", description="Of the compact copy, e.g. 32k.")
    workers: int = Field(2, ge=1, le=64, description="Conversions (ffmpeg processes) at once.")
    keep_original: bool = Field(False, description="Keep the verified WAV next to the compact copy.")
    remove_source: bool = Field(
        False, description="Delete the PBX's file once our copy is verified (off: the PBX cleans its spool)."
    )
    spool_map: dict[str, Path] = Field(
        default_factory=dict,
        description="PBX directory -> where this host sees it, e.g. the Asterisk spool over a mount.",
    )
    retry_delay: float = Field(30.0, gt=0, description="Seconds before the first retry; doubles each time.")
    max_attempts: int = Field(6, ge=1, le=50, description="Then the recording is marked failed (file kept).")
    file_wait: float = Field(
        10.0, ge=0, description="Seconds a missing or still-growing file is waited for before a retry."
    )
    retention: tuple[RetentionPolicy, ...] = ()
    "Checked in order, first match wins; no match (or no policies) keeps the recording forever."

    @field_validator("spool_map")
    @classmethod
    def _absolute_pbx_paths(cls, value: dict[str, Path]) -> dict[str, Path]:
        for pbx_dir in value:
            if not pbx_dir.startswith("/"):
                raise ValueError(f"the PBX directory {pbx_dir!r} must be an absolute path")
        return value


class CrmSettings(_Section):
    default_region: str = Field("RU", min_length=2, max_length=2)
    own_numbers: tuple[str, ...] = ()
    "The company's own DIDs: they never become a lead and never match a card."
    default_responsible: str = "admin"
    "Login that owns leads when nobody answered (a missed call)."


class LoggingSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    json_output: bool | None = Field(None, alias="json")
    "True: JSON lines; False: readable console; unset: console on a terminal, JSON otherwise."
    file: Path | None = None


class Settings(_Section):
    pbx: PbxSettings = PbxSettings()
    ami: AmiSettings = AmiSettings()
    sip: SipSettings = SipSettings()
    database: DatabaseSettings = DatabaseSettings()
    web: WebSettings = WebSettings()
    recordings: RecordingSettings = RecordingSettings()
    crm: CrmSettings = CrmSettings()
    logging: LoggingSettings = LoggingSettings()
    dialplan: Path = Path("config/dialplan.yaml")


# Environment variable -> dotted key. Values are parsed like YAML scalars ("true", "5038").
ENVIRONMENT: Mapping[str, str] = {
    "CTI_PBX_MODE": "pbx.mode",
    "CTI_PBX_ID": "pbx.id",
    "CTI_AMI_HOST": "ami.host",
    "CTI_AMI_PORT": "ami.port",
    "CTI_AMI_USERNAME": "ami.username",
    "CTI_AMI_SECRET": "ami.secret",
    "CTI_AMI_CONFIG_DIR": "ami.config_dir",
    "CTI_DATABASE_URL": "database.url",
    "CTI_WEB_HOST": "web.host",
    "CTI_WEB_PORT": "web.port",
    "CTI_WEB_TIMEZONE": "web.timezone",
    "CTI_WEB_DEFAULT_LOCALE": "web.default_locale",
    "CTI_RECORDINGS_DIR": "recordings.directory",
    "CTI_DEFAULT_REGION": "crm.default_region",
    "CTI_LOG_LEVEL": "logging.level",
    "CTI_LOG_JSON": "logging.json",
    "CTI_DIALPLAN": "dialplan",
    "CTI_SIP_HOST": "sip.host",
    "CTI_SIP_PORT": "sip.port",
    "CTI_SIP_TCP": "sip.tcp",
    "CTI_SIP_ADVERTISE": "sip.advertise",
    "CTI_SIP_RTP_PORT_MIN": "sip.rtp_port_min",
    "CTI_SIP_RTP_PORT_MAX": "sip.rtp_port_max",
    "CTI_SIP_LATCH_ONLY": "sip.latch_only",
}
_STRING_KEYS = {
    "ami.secret",
    "ami.username",
    "pbx.id",
    "database.url",
    "ami.host",
    "web.host",
    "sip.host",
    "sip.advertise",
}


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read *path* (default ``config/cti.yaml``; a missing default file means all defaults)."""
    environ = os.environ if environ is None else environ
    explicit = path is not None
    path = path or Path(environ.get("CTI_CONFIG", DEFAULT_PATH))
    data: Any = CommentedMap()
    if path.exists():
        try:
            data = YAML(typ="rt").load(path.read_text(encoding="utf-8")) or CommentedMap()
        except MarkedYAMLError as exc:
            mark = exc.problem_mark
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
            raise SettingsError(f"{where}: not valid YAML: {exc.problem}") from exc
        if not isinstance(data, dict):
            raise SettingsError(
                f"{path}:1:1: the settings must be a mapping of sections (got a {type(data).__name__})"
            )
    elif explicit:
        raise SettingsError(f"{path}: no such settings file")
    merged = _plain(data)
    for variable, dotted in ENVIRONMENT.items():
        if variable in environ:
            _set_dotted(merged, dotted, _scalar(environ[variable], keep_string=dotted in _STRING_KEYS))
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, path, data, environ)) from None


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        child = data.get(key)
        if not isinstance(child, dict):
            child = data[key] = {}
        data = child
    data[leaf] = value


def _scalar(text: str, *, keep_string: bool) -> Any:
    if keep_string:
        return text
    value = YAML(typ="safe").load(text)
    return text if value is None or isinstance(value, dict | list) else value


def _position(data: Any, loc: tuple[int | str, ...]) -> tuple[int, int] | None:
    """Line and column (1-based) of the deepest key of *loc* that the YAML file has."""
    node, found = data, None
    for key in loc:
        if isinstance(node, CommentedMap) and key in node:
            line, col = node.lc.key(key)
            found = (line + 1, col + 1)
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
            line, col = node.lc.item(key)
            found = (line + 1, col + 1)
            node = node[key]
        else:
            break
    return found


def _describe(exc: ValidationError, path: Path, data: Any, environ: Mapping[str, str]) -> str:
    lines = []
    by_key = {dotted: variable for variable, dotted in ENVIRONMENT.items() if variable in environ}
    for error in exc.errors():
        loc = tuple(error["loc"])
        key = ".".join(str(part) for part in loc)
        if key == "logging.json_output":
            key = "logging.json"
        problem = error["msg"]
        if error["type"] == "extra_forbidden":
            problem = "unknown key (a typo?)"
        given = error.get("input")
        if error["type"] != "extra_forbidden" and not isinstance(given, dict) and "secret" not in key:
            problem += f" (got {given!r})"
        if key in by_key:
            lines.append(f"{by_key[key]} (environment): {key}: {problem}")
            continue
        position = _position(data, loc)
        where = f"{path}:{position[0]}:{position[1]}" if position else str(path)
        lines.append(f"{where}: {key}: {problem}")
    return "\n".join(lines)
