"""Asterisk 22 configuration rendered from the dialplan: pjsip, extensions, features, confbridge.

The generated dialplan does at call time what :mod:`cti.routing` decides for ``cti dialplan
explain``: targets are Gosub routines (``cti-ext-101``, ``cti-group-sales``, ``cti-in-1``...) so an
inbound route's ``fallback`` rings after its ``to`` and everything it forwards to, each target runs
at most once per call (``CTI_SEEN``), busy / not registered come from ``DEVICE_STATE`` and
``DIALSTATUS``, and recording is decided per leg on the leg that answers (Dial's ``U()`` runs
``sub-record`` there). What a phone may do comes from variables its pjsip endpoint sets on every
channel (``set_var``): ``CTI_EXTENSION``, ``CTI_CLASSES``, ``CTI_RECORDING`` and the recording
policies; the trunk's channels carry only the inbound policy, so a call from the trunk never
borrows a phone's permissions. ``responsible_first`` needs the CRM at call time and is not rendered.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from config.dialplan_spec import (
    DialplanSpec,
)
from config.files import write_atomically
from config.settings import Settings

from .dial_patterns import RenderError, asterisk_patterns, posix_regex
from .extensions_conf import LIMITED_CONTEXT, RECORDING_DIR, ExtensionsConf, slug, text

__all__ = ["RenderError", "asterisk_patterns", "posix_regex", "render_asterisk", "write_config"]

_TEMPLATES = Path(__file__).with_name("templates")


def _conf_value(value: str) -> str:
    """A value for pjsip.conf: ';' starts a comment there unless escaped."""
    if value != value.strip() or "\n" in value or "\r" in value:
        raise RenderError("a secret or name has line breaks or spaces at its ends (Asterisk drops them)")
    return value.replace(";", "\\;")


def _feature_codes(prefix: str) -> dict[str, str]:
    """The in-call codes beside ``atxfer``: none starts with its first key, so ``*<ext>#`` works."""
    lead = "*" if prefix[0] == "#" else "#"
    return {"blindxfer": f"{lead}1", "disconnect": f"{lead}0", "automixmon": f"{lead}3"}


def _pjsip(plan: DialplanSpec, internal: str) -> dict[str, object]:
    pickup: dict[str, list[str]] = {}
    for name, group in plan.groups.items():
        if group.pickup:
            for member in group.members:
                pickup.setdefault(member, []).append(slug(name))
    policy = plan.recording
    phones = []
    for number, ext in plan.extensions.items():
        secret = _conf_value(ext.secret) if ext.secret else None
        context = internal if secret and not ext.disabled else LIMITED_CONTEXT
        phones.append(
            {
                "number": number,
                "name": text(ext.name),
                "secret": secret,
                "context": context,
                "disabled": ext.disabled,
                "groups": ",".join(pickup.get(number, ())) if not ext.disabled else "",
                "vars": {
                    "CTI_EXTENSION": number,
                    "CTI_CLASSES": ",".join(ext.outbound),
                    "CTI_RECORDING": ext.recording.value,
                    "CTI_POLICY": policy.internal,
                    "CTI_POLICY_OUT": policy.outbound,
                    "CTI_DIAL_CALLER": "T",
                },
            }
        )
    trunks = []
    for name, trunk in plan.trunks.items():
        trunks.append(
            {
                "name": name,
                "trunk": trunk,
                "secret": _conf_value(trunk.secret) if trunk.secret else None,
                "match": ",".join(dict.fromkeys((trunk.host, *trunk.allow_from))),
                "vars": {"CTI_POLICY": policy.inbound, "CTI_POLICY_OUT": policy.inbound},
            }
        )
    transports = sorted({"udp", *(trunk.transport for trunk in plan.trunks.values())})
    return {"phones": phones, "trunks": trunks, "transports": transports}


def render_asterisk(
    plan: DialplanSpec, *, settings: Settings | None = None, source: str = "config/dialplan.yaml"
) -> dict[str, str]:
    """Render *plan* as Asterisk 22 configuration: file name -> text (pure, writes nothing).

    *settings* gives the context the CTI's own calls start in (``ami.context``, default
    ``from-internal``); *source* is named in the files' comments.
    """
    internal = settings.ami.context if settings is not None else "from-internal"
    dialplan = ExtensionsConf(plan, internal, source)
    contexts = dialplan.build()
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(("html",)),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    common = {"plan": plan, "source": source, "internal": internal, "recording_dir": RECORDING_DIR}
    prefix = plan.feature_codes.announced_transfer.prefix
    return {
        "pjsip.conf": env.get_template("pjsip.conf.j2").render(**common, **_pjsip(plan, internal)),
        "extensions.conf": env.get_template("extensions.conf.j2").render(
            **common, contexts=list(contexts.values()), notes=dialplan.notes
        ),
        "features.conf": env.get_template("features.conf.j2").render(
            **common, atxfer=prefix, codes=_feature_codes(prefix)
        ),
        "confbridge.conf": env.get_template("confbridge.conf.j2").render(
            **common, rooms=[(room, text(c.name), c.pin) for room, c in plan.conferences.items()]
        ),
    }


def write_config(files: Mapping[str, str], out: Path) -> list[Path]:
    """Write *files* into *out* (created if missing), each atomically; other files there stay."""
    written = []
    for name, content in files.items():
        target = out / name
        write_atomically(target, content.encode("utf-8"), mode=0o640)  # pjsip.conf holds SIP passwords
        written.append(target)
    return written
