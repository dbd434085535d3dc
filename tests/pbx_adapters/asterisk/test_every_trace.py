"""Every recorded scenario through the real socket path, asserted field by field.

Expected values are what `shared/ami-traces/README.md` says happened in each scenario; talk times
come from the events' `Timestamp` headers, so they are the real ones, rounded to seconds.
"""

from __future__ import annotations

import pytest

from pbx_adapters.asterisk.trace import read_trace
from tests.conftest import TRACES

from .test_cut_streams import play

CALLER, SALES, ACCOUNTING, ROOM_DID, OUTSIDE = (
    "+79161234567",
    "+74951234567",
    "+74951234568",
    "+74951234580",
    "+74957654321",
)

# call_id: (direction, external_number, did, extensions, answered_by, disposition, pickups,
#           transfers, conference, recordings, listeners, talk_seconds)
EXPECTED = {
    "01_internal_call": {
        "1795751281.0": ("internal", None, None, ("101", "102"), "102", "answered", [], [], None, 1, (), 2),
    },
    "02_inbound_answered": {
        "1795751289.3": ("inbound", CALLER, SALES, ("101",), "101", "answered", [], [], None, 1, (), 3),
    },
    "03_inbound_missed": {
        "1795751299.6": ("inbound", CALLER, SALES, ("101",), None, "missed", [], [], None, 0, (), 0),
    },
    "04_pickup_star11": {
        "1795751308.9": (
            "inbound", CALLER, ACCOUNTING, ("102", "103"), "103", "answered",
            [("103", "102", "*11")], [], None, 1, (), 4,
        ),
    },
    "05_pickup_40": {
        "1795751319.15": (
            "inbound", CALLER, ACCOUNTING, ("102", "103"), "103", "answered",
            [("103", "102", "40")], [], None, 1, (), 4,
        ),
    },
    "06_attended_transfer_dtmf_feature": {
        "1795751331.21": (
            "inbound", CALLER, SALES, ("101", "102"), "101", "answered",
            [], [("attended", "101", "102")], None, 1, (), 13,
        ),
    },
    "06b_attended_transfer_ami_atxfer": {
        "1795751350.33": (
            "inbound", CALLER, SALES, ("101", "102"), "101", "answered",
            [], [("attended", "101", "102")], None, 1, (), 13,
        ),
    },
    "06c_attended_transfer_ami_atxfer_race": {
        "1795751369.45": ("inbound", CALLER, SALES, ("101",), "101", "answered", [], [], None, 1, (), 10),
    },
    "07_blind_transfer_sip_refer": {
        "1795751384.48": (
            "inbound", CALLER, SALES, ("101", "103"), "101", "answered",
            [], [("blind", "101", "103")], None, 1, (), 7,
        ),
    },
    "07b_blind_transfer_ami_action": {
        "1795751397.53": (
            "inbound", CALLER, SALES, ("101", "103"), "101", "answered",
            [], [("blind", "101", "103")], None, 1, (), 7,
        ),
    },
    "07c_blind_transfer_dtmf_feature": {
        "1795751410.58": (
            "inbound", CALLER, SALES, ("101", "103"), "101", "answered",
            [], [("blind", "101", "103")], None, 1, (), 9,
        ),
    },
    "08_conference": {
        "1795751425.63": ("inbound", CALLER, ROOM_DID, (), None, "answered", [], [], "800", 0, (), 7),
        "1795751426.67": ("internal", None, None, ("101",), None, "answered", [], [], "800", 0, (), 5),
        "1795751427.68": ("internal", None, None, ("102",), None, "answered", [], [], "800", 0, (), 5),
    },
    "09_outbound_answered": {
        "1795751437.73": ("outbound", OUTSIDE, None, ("101",), "101", "answered", [], [], None, 1, (), 3),
    },
    "10_busy": {
        "1795751447.76": ("internal", None, None, ("101",), None, "busy", [], [], None, 0, (), 0),
    },
    "11_chanspy_supervisor": {
        "1795751451.80": (
            "inbound", CALLER, SALES, ("101",), "101", "answered", [], [], None, 1, ("104",), 9,
        ),
    },
    "12_attended_transfer_outbound_rfc4733_dtmf": {
        "1795751466.85": (
            "outbound", OUTSIDE, None, ("101", "102"), "101", "answered",
            [], [("attended", "101", "102")], None, 1, (), 14,
        ),
    },
    "13_resync_queries_during_call": {
        "1795751487.95": ("inbound", CALLER, SALES, ("101",), "101", "answered", [], [], None, 1, (), 6),
    },
    "14_click_to_call_originate": {
        "1795751499.98": ("outbound", OUTSIDE, None, ("101",), "101", "answered", [], [], None, 1, (), 2),
    },
}  # fmt: skip


def fields(call):
    return (
        call.direction.value,
        call.external_number,
        call.did,
        call.extensions,
        call.answered_by,
        call.disposition.value,
        [(p.by, p.from_, p.code) for p in call.pickups],
        [(t.kind.value, t.by, t.to) for t in call.transfers],
        call.conference,
        len(call.recordings),
        call.listeners,
        call.talk_seconds,
    )


def test_every_call_trace_is_covered():
    """
    A new trace in the fixtures must get its expected records here.
    """
    assert sorted(EXPECTED) == sorted(p.stem for p in TRACES.glob("*.jsonl") if not p.stem.startswith("00_"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_the_trace_replays_to_its_records(name):
    """
    Through banner, login, TCP and the tracker, each call of the scenario is what happened.
    """
    run = await play(read_trace(TRACES / f"{name}.jsonl"))

    assert EXPECTED[name] == {call.call_id: fields(call) for call in run.ended}


async def test_00_registration_is_device_state_not_a_call():
    """
    105 registers with digest (401, then 200) and unregisters 3 s later: registered, then not; no call.
    """
    from cti.events import DeviceRegistered, DeviceUnregistered

    run = await play(read_trace(TRACES / "00_registration.jsonl"))

    devices = [
        (type(e).__name__, e.extension)
        for e in run.events
        if isinstance(e, DeviceRegistered | DeviceUnregistered)
    ]
    assert [("DeviceRegistered", "105"), ("DeviceUnregistered", "105")] == devices
    assert [] == run.ended
    assert [] == [device.extension for device in run.registry.devices() if device.registered]
