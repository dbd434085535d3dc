"""The embedded PBX on loopback with a small office plan, and real SIP peers (sipp) to talk to it.

Every PBX here listens on 127.0.0.1 with a free port and ``latch_only`` media, so no packet ever
leaves loopback, whatever a peer announces in its SDP.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.dialplan import parse_dialplan
from config.settings import Settings
from cti.plan import RunningPlan
from pbx_adapters.sip.pbx import SipPbx

from .peers import Recorder, Sipp, tone_wav

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
CARRIER_HOST, CARRIER_PORT = "127.0.0.2", 15960
"The sipp that plays the carrier listens here (the plan's trunk): another loopback address than the phones'."

PLAN = f"""\
timezone: Europe/Moscow
default_region: RU
extensions:
  "101": {{name: Anna Sokolova, user: sokolova, secret: secret-101, outbound: [national]}}
  "102": {{name: Ivan Petrov, user: petrov, secret: secret-102}}
  "103": {{name: Maria Ivanova, user: ivanova, secret: secret-103,
          forward: {{no_answer: {{to: ext:104, after: 3s}}}}}}
  "104": {{name: Dmitry Smirnov, user: smirnov, secret: secret-104, outbound: [national, supervisor]}}
  "105": {{name: Elena Kuznetsova, user: kuznetsova, secret: secret-105,
          mobile: "+79161234505", forward: {{always: mobile}}}}
groups:
  sales: {{number: "200", members: ["101", "102"], strategy: ringall, timeout: 20s, pickup: true}}
  support: {{number: "300", members: ["103", "102"], strategy: sequential, member_timeout: 2s, timeout: 10s,
            pickup: false}}
  desk: {{number: "500", members: ["102", "103"], strategy: hunt, member_timeout: 2s, timeout: 10s,
         pickup: false}}
feature_codes:
  pickup: ["*11", "40"]
  announced_transfer: {{prefix: "*2", terminator: "#"}}
conferences:
  "800": {{name: Briefing}}
  "801": {{name: Board, pin: "1234"}}
trunks:
  main:
    host: {CARRIER_HOST}
    port: {CARRIER_PORT}
    numbers: ["+74951234567"]
    caller_id: "+74951234567"
inbound:
  - {{number: "+74951234567", to: "group:sales"}}
  - {{number: any, to: "ext:102"}}
outbound:
  - {{name: national, match: ['^8\\d{{10}}$'], strip: 1, prefix: "+7", trunk: main, permission: national}}
  - {{name: national-e164, match: ['^\\+7\\d{{10}}$'], trunk: main, permission: national}}
  - {{name: international, match: ['^\\+\\d{{7,15}}$'], trunk: main, permission: international}}
recording: {{inbound: always, outbound: always, internal: always}}
"""


def plan_spec(text: str = PLAN):
    spec, issues = parse_dialplan(text)
    errors = [issue for issue in issues if getattr(issue, "severity", "error") == "error"]
    assert not errors, errors
    return spec


def settings(tmp_path: Path, **sip: object) -> Settings:
    values = {
        "host": "127.0.0.1",
        "port": 0,
        "rtp_port_min": 42000,
        "rtp_port_max": 42999,
        "latch_only": True,
    }
    values.update(sip)
    return Settings.model_validate(
        {
            "sip": values,
            "recordings": {"directory": str(tmp_path / "recordings")},
            "pbx": {"mode": "embedded"},
        }
    )


@pytest.fixture(name="recorder")
def _recorder() -> Recorder:
    return Recorder()


@pytest.fixture(name="pbx")
async def _pbx(tmp_path: Path, recorder: Recorder) -> AsyncIterator[SipPbx]:
    running = RunningPlan()
    running.swap(plan_spec(), PLAN, None)
    pbx = SipPbx(settings(tmp_path), recorder.publish, plan=running)
    await pbx.start()
    try:
        yield pbx
    finally:
        await pbx.stop()


@pytest.fixture(name="sipp")
def _sipp(pbx: SipPbx, tmp_path: Path) -> Sipp:
    if shutil.which("sipp") is None:
        pytest.fail("sipp is missing: apt-get install sip-tester (make apt-test)")
    tone_wav(tmp_path / "tone_a.wav", 440, 3.0)  # what sipp phones play: 440 Hz from callers,
    tone_wav(tmp_path / "tone_b.wav", 1000, 3.0)  # 1 kHz from the called phones
    return Sipp(pbx.address, tmp_path)
