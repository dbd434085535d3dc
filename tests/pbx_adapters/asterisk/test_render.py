"""Asterisk configuration rendered from the dialplan: structure, well-formedness, the CLI.

No Asterisk runs here (none is installable on our machines), so the rendered files are read back
with a small reader of Asterisk's config syntax and checked for what Asterisk would refuse or
silently get wrong: empty section names, a priority 1 given twice, a Goto/Gosub to nowhere.
"""

# Expected value first (STYLE.md), which ruff calls a Yoda condition.

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from config.dialplan import load_dialplan, parse_dialplan
from config.settings import Settings
from pbx_adapters.asterisk.render import (
    RenderError,
    asterisk_patterns,
    posix_regex,
    render_asterisk,
    write_config,
)
from tests.conftest import ROOT
from web import cli, cli_dialplan

SAMPLE = ROOT / "config" / "dialplan.yaml"


# -- a reader of Asterisk's config syntax ------------------------------------------------------


@dataclass
class Section:
    name: str
    templates: str
    entries: list[tuple[str, str, str]] = field(default_factory=list)
    "(key, operator, value) in order; a key may repeat (set_var)."

    def get(self, key: str) -> str | None:
        return next((value for k, _op, value in self.entries if k == key), None)

    def all(self, key: str) -> list[str]:
        return [value for k, _op, value in self.entries if k == key]


_SECTION = re.compile(r"^\[([^\]]*)\](\(([^)]*)\))?\s*$")
_ENTRY = re.compile(r"^\s*([A-Za-z_][\w.-]*)\s*(=>|=)\s*(.*)$")


def _strip_comment(line: str) -> str:
    out, escaped = [], False
    for char in line:
        if char == ";" and not escaped:
            break
        escaped = char == "\\" and not escaped
        out.append(char)
    return "".join(out).rstrip()


def read_conf(text: str) -> list[Section]:
    """Sections in order (a name may repeat, as pjsip's endpoint and aor of one phone do)."""
    sections: list[Section] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw)
        if not line.strip():
            continue
        if (found := _SECTION.match(line)) is not None:
            assert found.group(1).strip(), f"line {number}: empty section name"
            sections.append(Section(found.group(1), found.group(3) or ""))
            continue
        entry = _ENTRY.match(line)
        assert entry is not None, f"line {number}: neither a section nor key = value: {raw!r}"
        assert sections, f"line {number}: an entry before any section"
        sections[-1].entries.append((entry.group(1), entry.group(2), entry.group(3).strip()))
    return sections


@dataclass
class Exten:
    name: str
    hint: str = ""
    steps: list[tuple[str, str]] = field(default_factory=list)
    "(label, application with its data)"


def read_dialplan(text: str) -> dict[str, dict[str, Exten]]:
    """extensions.conf as context -> exten -> steps; `same =>` continues the last exten."""
    contexts: dict[str, dict[str, Exten]] = {}
    for section in read_conf(text):
        assert section.name not in contexts, f"context [{section.name}] twice"
        extens: dict[str, Exten] = {}
        contexts[section.name] = extens
        current: Exten | None = None
        for key, operator, value in section.entries:
            if key == "include":
                continue
            assert operator == "=>", f"[{section.name}] {key} = {value}: dialplan lines use =>"
            if key == "exten":
                name, priority, rest = value.split(",", 2)
                if priority == "hint":
                    extens.setdefault(name, Exten(name)).hint = rest
                    continue
                found = re.fullmatch(r"1(\(([\w-]+)\))?", priority)
                assert found is not None, f"[{section.name}] {value}: exten => starts at priority 1"
                assert not extens.get(name, Exten(name)).steps, f"[{section.name}] exten {name},1 twice"
                current = extens.setdefault(name, Exten(name))
                current.steps.append((found.group(2) or "", rest))
            else:
                assert key == "same", f"[{section.name}] unexpected {key} =>"
                assert current is not None, f"[{section.name}] same => before any exten"
                priority, rest = value.split(",", 1)
                found = re.fullmatch(r"n(\(([\w-]+)\))?", priority)
                assert found is not None, f"[{section.name}] {value}: priority must be n or n(label)"
                current.steps.append((found.group(2) or "", rest))
    return contexts


def _jumps(app: str) -> list[str]:
    """The same-exten labels a step may jump to."""
    if app.startswith(("GotoIf(", "GotoIfTime(")):
        body = app[app.index("(") + 1 : -1]
        targets = body.rsplit("?", 1)[1]
        return [t for t in targets.split(":") if t]
    if app.startswith("Goto(") and "," not in app:
        return [app[len("Goto(") : -1]]
    return []


def _calls(app: str) -> list[tuple[str, str]]:
    """(context, exten) a step enters: Gosub, Goto(ctx,exten,1), Dial's U() and b()."""
    out = []
    if (found := re.match(r"Gosub\(([\w-]+),([^,]+),1", app)) is not None:
        out.append((found.group(1), found.group(2)))
    if (found := re.match(r"Goto\(([\w-]+),([^,]+),1\)", app)) is not None:
        out.append((found.group(1), found.group(2)))
    for found in re.finditer(r"\bU\(([\w-]+)\^", app):
        out.append((found.group(1), "s"))
    for found in re.finditer(r"\bb\(([\w-]+)\^s\^1", app):
        out.append((found.group(1), "s"))
    return out


def check_well_formed(files: dict[str, str]) -> dict[str, dict[str, Exten]]:
    for name in ("pjsip.conf", "features.conf", "confbridge.conf"):
        read_conf(files[name])
    contexts = read_dialplan(files["extensions.conf"])
    bridges = {s.name for s in read_conf(files["confbridge.conf"])}
    for context, extens in contexts.items():
        for exten in extens.values():
            labels = {label for label, _app in exten.steps if label}
            assert len(labels) == len([label for label, _app in exten.steps if label]), (context, exten.name)
            for _label, app in exten.steps:
                for label in _jumps(app):
                    if re.fullmatch(r"[+\w*#]+,1", label):  # Goto(exten,1) in this context
                        assert label.split(",")[0] in extens, (context, app)
                    else:
                        assert label in labels, f"[{context}] {exten.name}: {app} jumps to a missing label"
                for target, entry in _calls(app):
                    assert entry in contexts.get(target, {}), f"[{context}] {app}: no such target"
                if app.startswith("ConfBridge("):
                    _room, bridge, user = app[len("ConfBridge(") : -1].split(",")
                    assert {bridge, user} <= bridges, app
    return contexts


def _app_lines(exten: Exten) -> list[str]:
    return [app for _label, app in exten.steps]


# -- the sample plan ---------------------------------------------------------------------------


@pytest.fixture(name="sample", scope="module")
def _sample():
    spec, _warnings = load_dialplan(SAMPLE)
    return spec


@pytest.fixture(name="files", scope="module")
def _files(sample) -> dict[str, str]:
    return render_asterisk(sample)


def test_sample_renders_four_well_formed_files(files):
    assert {"pjsip.conf", "extensions.conf", "features.conf", "confbridge.conf"} == set(files)
    check_well_formed(files)


def test_every_extension_has_an_endpoint_and_an_aor(sample, files):
    sections = read_conf(files["pjsip.conf"])
    for number in sample.extensions:
        types = {s.get("type") for s in sections if s.name == number}
        assert {"endpoint", "aor"} == types, number
        endpoint = next(s for s in sections if s.name == number and s.get("type") == "endpoint")
        assert f"CTI_EXTENSION={number}" in endpoint.all("set_var")
        # the sample has no secrets: no auth, no way in but the emergency numbers
        assert endpoint.get("auth") is None
        assert "cti-emergency-only" == endpoint.get("context")
    assert not [s for s in sections if s.get("type") == "auth" and s.name != "main-auth"]
    assert "no phone may register as it" in files["pjsip.conf"]


def test_pickup_groups_are_named_after_groups_with_pickup(files):
    sections = read_conf(files["pjsip.conf"])
    endpoint = {s.name: s for s in sections if s.get("type") == "endpoint"}
    assert "sales" == endpoint["101"].get("named_pickup_group") == endpoint["101"].get("named_call_group")
    assert "support" == endpoint["107"].get("named_pickup_group")  # pickup defaults to true
    assert endpoint["104"].get("named_pickup_group") is None
    assert "CTI_CLASSES=national,international,supervisor" in endpoint["104"].all("set_var")
    assert "CTI_RECORDING=never" in endpoint["109"].all("set_var")


def test_trunk_registers_and_is_identified_by_its_host(files):
    sections = {(s.name, s.get("type")): s for s in read_conf(files["pjsip.conf"])}
    endpoint = sections[("main", "endpoint")]
    assert "from-trunk" == endpoint.get("context")
    assert "main-auth" == endpoint.get("outbound_auth")
    assert "sip:sip.example.net:5060" == sections[("main", "aor")].get("contact")
    auth = sections[("main-auth", "auth")]
    assert ("userpass", "74951234567", "CHANGE-ME-carrier-password") == (
        auth.get("auth_type"),
        auth.get("username"),
        auth.get("password"),
    )
    assert "sip.example.net" == sections[("main-identify", "identify")].get("match")
    registration = sections[("main-registration", "registration")]
    assert "sip:74951234567@sip.example.net:5060" == registration.get("client_uri")
    assert "main-auth" == registration.get("outbound_auth")


def test_internal_numbers_pickup_rooms_and_spy_codes(files):
    internal = read_dialplan(files["extensions.conf"])["from-internal"]
    assert "PJSIP/101" == internal["101"].hint
    assert "Gosub(cti-ext-101,s,1)" in _app_lines(internal["101"])
    assert "Gosub(cti-group-sales,s,1)" in _app_lines(internal["200"])
    assert "Gosub(cti-room-800,s,1)" in _app_lines(internal["800"])
    for code in ("*11", "40"):
        assert [f"UserEvent(CtiPickup,Code: {code})", "Pickup()", "Hangup()"] == _app_lines(internal[code])
    assert "Gosub(cti-spy,s,1(101,qE))" in _app_lines(internal["555101"])
    assert "Gosub(cti-spy,s,1(101,qwE))" in _app_lines(internal["556101"])
    assert "Gosub(cti-spy,s,1(101,qBE))" in _app_lines(internal["557101"])


def test_spying_needs_the_supervisor_class(files):
    spy = _app_lines(read_dialplan(files["extensions.conf"])["cti-spy"]["s"])
    assert spy[0] == 'GotoIf($[${REGEX("(^|,)supervisor(,|$)" ${CTI_CLASSES})}]?allowed)'
    assert "Hangup(21)" == spy[1]
    assert "ChanSpy(PJSIP/${ARG1}-,${ARG2})" in spy


def test_ringall_group_dials_every_member_at_once(files):
    sales = _app_lines(read_dialplan(files["extensions.conf"])["cti-group-sales"]["s"])
    ringall = [
        app for app in sales if app.startswith("Dial(PJSIP/101&PJSIP/102&PJSIP/103&PJSIP/105&PJSIP/106,25,")
    ]
    assert 1 == len(ringall)
    # the caller is never rung by its own group
    assert any(app.startswith("Dial(PJSIP/102&PJSIP/103&PJSIP/105&PJSIP/106,25,") for app in sales)
    assert "Gosub(cti-ext-110,s,1)" == sales[-3]  # overflow after the group


def test_sequential_group_rings_members_in_order_with_their_timeouts(files):
    support = _app_lines(read_dialplan(files["extensions.conf"])["cti-group-support"]["s"])
    dials = [app.split(",", 2)[:2] for app in support if app.startswith("Dial(")]
    assert [["Dial(PJSIP/107", "15"], ["Dial(PJSIP/108", "15"]] == dials
    assert "Gosub(cti-ext-110,s,1)" in support


def test_extension_forwards(files):
    contexts = read_dialplan(files["extensions.conf"])
    anna = _app_lines(contexts["cti-ext-101"]["s"])
    dial = anna.index(next(app for app in anna if app.startswith("Dial(PJSIP/101,20,")))
    mobile = anna.index(next(app for app in anna if app.startswith("Dial(PJSIP/+79161234501@main,30,")))
    assert dial < mobile  # no answer for 20 s: her mobile, through the trunk
    ivan = contexts["cti-ext-102"]["s"]
    unavailable = next(app for label, app in ivan.steps if label == "unavailable")
    assert unavailable.startswith("Dial(PJSIP/+79031234502@main,30,")
    dmitry = contexts["cti-ext-104"]["s"]
    assert "Gosub(cti-ext-101,s,1)" == next(app for label, app in dmitry.steps if label == "busy")
    assert "Gosub(cti-ext-110,s,1)" in _app_lines(contexts["cti-ext-109"]["s"])


def test_inbound_routes_by_did_with_a_user_event(files):
    trunk = read_dialplan(files["extensions.conf"])["from-trunk"]
    assert [
        "UserEvent(CtiInbound,Did: ${FILTER(0-9+,${EXTEN})})",
        "Gosub(cti-in-1,s,1)",
        "Hangup()",
    ] == _app_lines(trunk["+74951234567"])
    assert ["Goto(+74951234567,1)"] == _app_lines(trunk["74951234567"])
    assert "Gosub(cti-in-3,s,1)" in _app_lines(trunk["_X!"])  # the 'any' route
    assert "Gosub(cti-in-3,s,1)" in _app_lines(trunk["_+!"])


def test_business_hours_and_holidays_in_moscow_time(sample, files):
    route = read_dialplan(files["extensions.conf"])["cti-in-1"]["s"]
    apps = _app_lines(route)
    # the plan's 18:00 is exclusive, GotoIfTime's end minute inclusive
    assert "GotoIfTime(09:00-17:59,mon-fri,*,*,Europe/Moscow?open)" in apps
    assert "Set(LOCAL(today)=${STRFTIME(${EPOCH},Europe/Moscow,%Y-%m-%d)})" in apps
    holidays = [app for app in apps if app.startswith('GotoIf($["${today}" = ')]
    assert [f'GotoIf($["${{today}}" = "{day}"]?closed)' for day in sample.holidays["ru_2026"]] == holidays
    opened = next(i for i, (label, _app) in enumerate(route.steps) if label == "open")
    assert ["Gosub(cti-group-sales,s,1)", "Gosub(cti-ext-110,s,1)"] == apps[
        opened : opened + 2
    ]  # to, fallback
    assert "Hangup()" == next(app for label, app in route.steps if label == "closed")  # otherwise: hangup
    assert "Set(CALLERID(name)=Sales: ${CALLERID(name)})" in apps
    accounting = _app_lines(read_dialplan(files["extensions.conf"])["cti-in-2"]["s"])
    assert "GotoIfTime(14:00-16:59,mon-thu,*,*,Europe/Moscow?open)" in accounting
    assert "GotoIfTime(14:00-15:59,fri,*,*,Europe/Moscow?open)" in accounting


def test_responsible_first_is_said_to_be_not_rendered(files):
    assert "responsible_first" in files["extensions.conf"].split("[sub-record]")[0]
    assert "inbound route +74951234567: responsible_first" in files["extensions.conf"]


def test_outbound_patterns_permissions_strip_prefix_and_caller_id(files):
    contexts = read_dialplan(files["extensions.conf"])
    internal = contexts["from-internal"]
    assert {"_8XXXXXXXXXX", "_+7XXXXXXXXXX", "_810XXXXXXX", "_+XXXXXXXXXXXXXXX"} <= set(internal)
    assert "_X!" not in internal  # every sample pattern has an exact Asterisk form
    out = contexts["cti-outbound"]["s"]
    apps = _app_lines(out)
    national = '${REGEX("(^|,)national(,|$)" ${CTI_CLASSES})}'
    assert f'GotoIf($[(${{REGEX("^(8[0-9]{{10}})$" ${{number}})}}) & {national}]?route-1)' == apps[1]
    route = next(i for i, (label, _app) in enumerate(out.steps) if label == "route-1")
    dial = apps[route + 1]
    assert dial.startswith("Dial(PJSIP/+7${number:1}@main,,")
    assert "b(cti-caller-id^s^1(+74951234567))" in dial
    assert ["Set(CALLERID(num)=${ARG1})", "Return()"] == _app_lines(contexts["cti-caller-id"]["s"])


def test_emergency_numbers_skip_permissions_even_from_limited_phones(files):
    contexts = read_dialplan(files["extensions.conf"])
    for context in ("from-internal", "cti-emergency-only"):
        assert "Gosub(cti-emergency,112,1)" in _app_lines(contexts[context]["112"])
    assert ["112"] == list(contexts["cti-emergency-only"])
    emergency = _app_lines(contexts["cti-emergency"]["112"])
    assert emergency[0].startswith("Dial(PJSIP/112@main,,")
    assert "CTI_CLASSES" not in " ".join(emergency)


def test_recording_is_decided_on_the_leg_that_answers(files):
    contexts = read_dialplan(files["extensions.conf"])
    record = _app_lines(contexts["sub-record"]["s"])
    assert "MixMonitor(${REC_FILE},b)" in record
    dial = next(app for app in _app_lines(contexts["cti-ext-109"]["s"]) if app.startswith("Dial("))
    assert "U(sub-record^${CTI_RECORDING}^^${CTI_POLICY}^)" in dial
    pjsip = files["pjsip.conf"]
    assert "set_var = CTI_POLICY=never" in pjsip  # internal: never
    assert "set_var = CTI_POLICY_OUT=always" in pjsip


def test_features_put_atxfer_on_the_transfer_prefix_alone(files):
    featuremap = next(s for s in read_conf(files["features.conf"]) if s.name == "featuremap")
    assert "*2" == featuremap.get("atxfer")
    others = [value for key, _op, value in featuremap.entries if key != "atxfer"]
    assert {"blindxfer", "disconnect", "automixmon"} == {k for k, _o, _v in featuremap.entries} - {"atxfer"}
    assert all(not code.startswith("*") for code in others)
    general = next(s for s in read_conf(files["features.conf"]) if s.name == "general")
    assert "1000" == general.get("featuredigittimeout")


def test_confbridge_room_with_pin(files):
    sections = {s.name: s for s in read_conf(files["confbridge.conf"])}
    assert "bridge" == sections["cti-room-800"].get("type")
    assert ("user", "2580") == (
        sections["cti-room-800-user"].get("type"),
        sections["cti-room-800-user"].get("pin"),
    )


def test_settings_name_the_internal_context(sample):
    settings = Settings.model_validate({"ami": {"context": "office-phones"}})
    files = render_asterisk(sample, settings=settings)
    contexts = check_well_formed(files)
    assert "office-phones" in contexts
    assert "from-internal" not in contexts


# -- edge plans --------------------------------------------------------------------------------

EDGE = """
timezone: Europe/Berlin
extensions:
  "201": {name: "Alice; O'Hara", secret: "s3cret;pass", outbound: [national, supervisor]}
  "202": {name: Bob, secret: bob-secret-1, recording: always}
  "203": {name: Carol, secret: carol-secret, forward: {always: "ext:201"}}
  "204": {name: Dave, disabled: true, secret: dave-secret-1}
  "205": {name: Eve, secret: eve-secret-12}
groups:
  desk:
    number: "600"
    strategy: hunt
    members: ["201", "202", "205"]
    member_timeout: 10
    timeout: 25
    pickup: false
feature_codes:
  pickup: ["*8"]
  announced_transfer: {prefix: "#5", terminator: "#"}
trunks:
  sip1: {host: 10.0.0.1, transport: tcp, allow_from: [10.0.0.2]}
  sip2: {host: 10.0.0.9}
inbound:
  - number: "+4930123456"
    schedule: day
    to: group:desk
    otherwise: ext:205
outbound:
  - name: local
    match: ['^0(30|40)\\d{5,9}$']
    trunk: sip1
    failover: sip2
    permission: national
    caller_id: "+4930123456"
emergency: ["110"]
schedules:
  day:
    hours: {mon-fri: "08:00-24:00", sat: "10:00-14:00"}
recording: {inbound: never, outbound: never, internal: never}
"""


@pytest.fixture(name="edge", scope="module")
def _edge():
    spec, _warnings = parse_dialplan(EDGE, path="edge.yaml")
    return spec


def test_edge_plan_is_well_formed(edge):
    check_well_formed(render_asterisk(edge, source="edge.yaml"))


def test_secrets_give_auth_and_are_escaped(edge):
    files = render_asterisk(edge)
    sections = read_conf(files["pjsip.conf"])
    auth = next(s for s in sections if s.name == "201-auth")
    assert ("userpass", "201") == (auth.get("auth_type"), auth.get("username"))
    assert "s3cret\\;pass" == auth.get("password")  # ';' would start a comment
    endpoint = next(s for s in sections if s.name == "201" and s.get("type") == "endpoint")
    assert ("from-internal", "201-auth") == (endpoint.get("context"), endpoint.get("auth"))
    assert '"Alice  O\'Hara" <201>' == endpoint.get("callerid")
    disabled = next(s for s in sections if s.name == "204" and s.get("type") == "endpoint")
    assert "cti-emergency-only" == disabled.get("context")
    assert not [s for s in sections if s.get("type") == "auth" and not s.get("password")]


def test_trunk_without_registration_and_tcp_transport(edge):
    sections = read_conf(render_asterisk(edge)["pjsip.conf"])
    assert not [s for s in sections if s.get("type") == "registration"]
    identify = next(s for s in sections if s.name == "sip1-identify")
    assert "10.0.0.1,10.0.0.2" == identify.get("match")
    assert {"cti-transport-tcp", "cti-transport-udp"} == {
        s.name for s in sections if s.get("type") == "transport"
    }


def test_hunt_group_rotates_after_the_last_answerer(edge):
    contexts = check_well_formed(render_asterisk(edge))
    desk = contexts["cti-group-desk"]["s"]
    apps = _app_lines(desk)
    assert 'GotoIf($["${GLOBAL(CTI_LAST_desk)}" = "202"]?after-202)' in apps
    start = next(i for i, (label, _app) in enumerate(desk.steps) if label == "after-202")
    dials = [app.split(",")[:2] for app in apps[start:] if app.startswith("Dial(")][:3]
    # after 202: 205, then 201, then 202; 10 s each within 25 s: the third gets 5 s
    assert [["Dial(PJSIP/205", "10"], ["Dial(PJSIP/201", "10"], ["Dial(PJSIP/202", "5"]] == dials
    assert "U(cti-hunt^desk^" in apps[start + 3]


def test_forward_always_and_disabled_extension(edge):
    contexts = read_dialplan(render_asterisk(edge)["extensions.conf"])
    carol = _app_lines(contexts["cti-ext-203"]["s"])
    assert "Gosub(cti-ext-201,s,1)" in carol
    assert not [app for app in carol if app.startswith("Dial(")]
    assert ["NoOp(disabled: never rung)", "Return()"] == _app_lines(contexts["cti-ext-204"]["s"])
    assert "554204" not in contexts["from-internal"]  # nobody listens to a disabled phone


def test_schedule_to_midnight_and_otherwise(edge):
    route = read_dialplan(render_asterisk(edge)["extensions.conf"])["cti-in-1"]["s"]
    apps = _app_lines(route)
    assert "GotoIfTime(08:00-23:59,mon-fri,*,*,Europe/Berlin?open)" in apps
    assert "GotoIfTime(10:00-13:59,sat,*,*,Europe/Berlin?open)" in apps
    assert "Gosub(cti-ext-205,s,1)" == next(app for label, app in route.steps if label == "closed")


def test_inexact_pattern_gets_a_catch_all_and_a_regex_check(edge):
    contexts = read_dialplan(render_asterisk(edge)["extensions.conf"])
    assert {"_X!", "_+!", "_*!", "_#!"} <= set(contexts["from-internal"])
    assert ["Gosub(cti-outbound,s,1(${EXTEN}))", "Hangup()"] == _app_lines(contexts["from-internal"]["_X!"])
    out = _app_lines(contexts["cti-outbound"]["s"])
    assert '${REGEX("^(0(30|40)[0-9]{5,9})$" ${number})}' in out[1]


def test_failover_only_when_the_first_trunk_cannot_carry_the_call(edge):
    out = read_dialplan(render_asterisk(edge)["extensions.conf"])["cti-outbound"]["s"]
    apps = _app_lines(out)
    first = next(i for i, app in enumerate(apps) if app.startswith("Dial(PJSIP/${number}@sip1,"))
    assert apps[first + 2].startswith('GotoIf($["${DIALSTATUS}" != "CHANUNAVAIL"')
    assert apps[first + 3].startswith("Dial(PJSIP/${number}@sip2,")
    assert "b(cti-caller-id^s^1(+4930123456))" in apps[first + 3]


def test_hash_transfer_prefix_moves_the_other_codes_to_star(edge):
    featuremap = next(s for s in read_conf(render_asterisk(edge)["features.conf"]) if s.name == "featuremap")
    assert "#5" == featuremap.get("atxfer")
    assert all(value.startswith("*") for key, _op, value in featuremap.entries if key != "atxfer")


def test_no_inbound_any_route_rejects_unknown_dids(edge):
    trunk = read_dialplan(render_asterisk(edge)["extensions.conf"])["from-trunk"]
    assert ["UserEvent(CtiInbound,Did: ${FILTER(0-9+,${EXTEN})})", "Hangup(1)"] == _app_lines(trunk["_X!"])


def test_a_regex_asterisk_cannot_take_is_refused(edge):
    plan = edge.model_copy(update={"outbound": (edge.outbound[0].model_copy(update={"match": (r"^\w+$",)}),)})
    with pytest.raises(RenderError, match="no POSIX form"):
        render_asterisk(plan)


# -- patterns ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("regex", "patterns"),
    [
        (r"^8\d{10}$", ("_8XXXXXXXXXX",)),
        (r"^\+7\d{10}$", ("_+7XXXXXXXXXX",)),
        (r"^112$", ("112",)),
        (r"^\d{2,3}$", ("_XX", "_XXX")),
        (r"^[2-9]\d?$", ("_N", "_NX")),
        (r"^[1-9][0-9]$", ("_ZX",)),
        (r"^[135]1$", ("_[135]1",)),
        (r"^\*\d{2}$", ("_*XX",)),
        (r"^8\d+$", None),
        (r"^(8|7)\d{10}$", None),
        (r"^\d{1,40}$", None),
        (r"^.{3}$", None),
    ],
)
def test_asterisk_patterns(regex, patterns):
    assert patterns == asterisk_patterns(regex)


@pytest.mark.parametrize(
    "regex", [r"^8\d{10}$", r"^\+\d{7,15}$", r"^0(30|40)\d{5}$", r"^(?:8|7)[\d]{3}$", r"^[^0]\d$"]
)
def test_posix_regex_matches_what_python_matches(regex):
    converted = posix_regex(regex)
    assert "\\d" not in converted
    # the converted form is also valid Python: on these, its matches must be the same
    for number in ("84951234567", "+4930123456", "03012345", "8123", "7999", "12", "02", "+1"):
        assert bool(re.fullmatch(regex, number)) == bool(re.search(converted, number)), number


# -- writing and the command line --------------------------------------------------------------


def test_write_config_replaces_ours_and_keeps_other_files(tmp_path):
    out = tmp_path / "asterisk"
    out.mkdir()
    (out / "modules.conf").write_text("[modules]\n", encoding="utf-8")
    (out / "pjsip.conf").write_text("old\n", encoding="utf-8")
    write_config({"pjsip.conf": "new\n", "features.conf": "f\n"}, out)
    assert "new\n" == (out / "pjsip.conf").read_text(encoding="utf-8")
    assert "[modules]\n" == (out / "modules.conf").read_text(encoding="utf-8")
    assert {"modules.conf", "pjsip.conf", "features.conf"} == {p.name for p in out.iterdir()}  # no temp left


@pytest.fixture(name="cli_config")
def _cli_config(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(cli_dialplan, "configure_logging", lambda **_kwargs: None)
    path = tmp_path / "cti.yaml"
    path.write_text("pbx: {mode: none}\n", encoding="utf-8")
    return path


def test_cli_renders_the_sample(cli_config, tmp_path, capsys):
    out = tmp_path / "etc"
    assert 0 == cli.main(
        ["dialplan", "render-asterisk", "--config", str(cli_config), "--file", str(SAMPLE), "--out", str(out)]
    )
    assert {"pjsip.conf", "extensions.conf", "features.conf", "confbridge.conf"} == {
        p.name for p in out.iterdir()
    }
    captured = capsys.readouterr()
    assert f"wrote {out / 'pjsip.conf'}" in captured.out
    assert "have no secret" in captured.err
    assert str(SAMPLE) in (out / "extensions.conf").read_text(encoding="utf-8")


def test_cli_refuses_an_invalid_plan_and_writes_nothing(cli_config, tmp_path, capsys):
    plan = tmp_path / "bad.yaml"
    plan.write_text('extensions:\n  "101": {name: A, forward: {always: "ext:999"}}\n', encoding="utf-8")
    out = tmp_path / "etc"
    assert 1 == cli.main(
        ["dialplan", "render-asterisk", "--config", str(cli_config), "--file", str(plan), "--out", str(out)]
    )
    assert not out.exists()
    assert "nothing was written" in capsys.readouterr().err


class TestSecurityOfTheRenderedConfig:
    """What the review of the renderer asked for, kept true."""

    def plan(self):
        from config.dialplan_spec import DialplanSpec

        return DialplanSpec.model_validate(
            {
                "extensions": {
                    "101": {"name": "With secret", "secret": "a-long-sip-secret"},
                    "102": {"name": "No secret"},
                    "103": {"name": "Disabled", "secret": "another-long-secret", "disabled": True},
                },
                "trunks": {"main": {"host": "sip.example.net", "numbers": ["+74951234567"]}},
            }
        )

    def aor(self, pjsip: str, number: str) -> str:
        start = pjsip.index(f"[{number}]\ntype = aor")
        return pjsip[start : pjsip.index("\n\n", start)]

    def test_only_a_phone_with_a_secret_may_register(self):
        """
        An extension without a secret, or disabled, gets max_contacts = 0: nobody registers as it.
        """
        from pbx_adapters.asterisk.render import render_asterisk

        pjsip = render_asterisk(self.plan())["pjsip.conf"]

        assert "max_contacts = 1" in self.aor(pjsip, "101")
        assert "max_contacts = 0" in self.aor(pjsip, "102")
        assert "max_contacts = 0" in self.aor(pjsip, "103")

    def test_the_trunk_is_identified_by_address_only(self):
        """
        identify_by = ip: a caller sending From: main is not the trunk.
        """
        from pbx_adapters.asterisk.render import render_asterisk

        pjsip = render_asterisk(self.plan())["pjsip.conf"]
        endpoint = pjsip[pjsip.index("[main]\ntype = endpoint") :]

        assert "identify_by = ip" in endpoint[: endpoint.index("\n\n")]


def test_a_lazy_quantifier_is_refused_not_widened():
    """
    POSIX has no lazy quantifiers: ^8\\d{10}?$ would match "8" alone there; it is refused instead.
    """
    import pytest

    from pbx_adapters.asterisk.dial_patterns import RenderError, posix_regex

    with pytest.raises(RenderError, match="lazy quantifier"):
        posix_regex(r"^8\d{10}?$")


def test_the_did_in_the_user_event_is_digits_only():
    """
    The carrier's digits are filtered before they go into an AMI event (no header injection).
    """
    from config.dialplan_spec import DialplanSpec
    from pbx_adapters.asterisk.render import render_asterisk

    plan = DialplanSpec.model_validate(
        {
            "extensions": {"101": {"name": "A", "secret": "a-long-sip-secret"}},
            "trunks": {"main": {"host": "sip.example.net", "numbers": ["+74951234567"]}},
            "inbound": [{"number": "+74951234567", "to": "ext:101"}],
        }
    )

    conf = render_asterisk(plan)["extensions.conf"]

    assert "UserEvent(CtiInbound,Did: ${FILTER(0-9+,${EXTEN})})" in conf
    assert "Did: ${EXTEN})" not in conf
