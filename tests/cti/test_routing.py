"""The routing engine on a small, readable office plan: what rings, in which order, and why."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from config.dialplan_spec import DialplanSpec
from cti.model import Direction
from cti.routing import (
    MAX_DEPTH,
    CallFacts,
    Cause,
    DecisionKind,
    External,
    JoinConference,
    Phone,
    RouteDecision,
    Via,
    call_facts,
    explain,
    route,
)

MOSCOW = ZoneInfo("Europe/Moscow")
FRIDAY = datetime(2026, 11, 27, 11, 0, tzinfo=MOSCOW)
"Office hours."
SATURDAY_EVENING = datetime(2026, 11, 28, 19, 0, tzinfo=MOSCOW)
CLIENT = "+79161234567"
DID = "+74951234567"

OFFICE: dict[str, Any] = {
    "timezone": "Europe/Moscow",
    "extensions": {
        "100": {"name": "Reception"},
        "101": {
            "name": "Ivan Petrov",
            "mobile": "+79161112233",
            "forward": {"no_answer": {"to": "mobile", "after": "20s"}},
        },
        "102": {"name": "Olga Smirnova"},
        "103": {"name": "Anna Kuznetsova"},
        "104": {"name": "Pavel Orlov", "outbound": ["national", "international", "supervisor"]},
    },
    "groups": {"sales": {"number": "600", "members": ["101", "102", "103"], "timeout": "25s"}},
    "conferences": {"800": {"name": "Morning briefing", "pin": "1234"}, "801": {"name": "Open room"}},
    "trunks": {
        "main": {"host": "sip.example.net", "numbers": [DID, "+74951234560"], "caller_id": DID},
        "backup": {"host": "sip.backup.example", "numbers": ["+74957654321"], "caller_id": "+74957654321"},
    },
    "inbound": [{"number": DID, "schedule": "office", "to": "group:sales", "otherwise": "ext:100"}],
    "outbound": [
        {"name": "russia", "match": r"\+7\d{10}", "trunk": "main", "failover": "backup"},
        {"name": "russia-8", "match": r"8\d{10}", "strip": 1, "prefix": "+7", "trunk": "main"},
        {
            "name": "international",
            "match": r"(\+|00)[1-9]\d{6,14}",
            "trunk": "main",
            "permission": "international",
            "caller_id": "+74951234560",
        },
        {"name": "emergency", "match": "112", "trunk": "main"},
    ],
    "schedules": {"office": {"hours": {"mon-fri": "09:00-18:00"}, "holidays": "ru"}},
    "holidays": {"ru": ["2026-12-31"]},
}


def _merge(into: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def office(**changes: Any) -> DialplanSpec:
    """The office plan with *changes* merged in (dicts merge, anything else replaces)."""
    data = copy.deepcopy(OFFICE)
    _merge(data, changes)
    return DialplanSpec.model_validate(data)


def call(caller: str, dialled: str, at: datetime = FRIDAY, **more: Any) -> CallFacts:
    """A call from one of our phones."""
    return CallFacts(caller=caller, dialled=dialled, at=at, **more)


def incoming(dialled: str = DID, caller: str = CLIENT, at: datetime = FRIDAY, **more: Any) -> CallFacts:
    """A call from outside on trunk main."""
    return CallFacts(caller=caller, dialled=dialled, at=at, trunk="main", **more)


def rung(decision: RouteDecision) -> list[tuple[tuple[str, ...], int | None]]:
    """Each step as (who rings, for how long): extensions, outside numbers, ``room N``."""
    out: list[tuple[tuple[str, ...], int | None]] = []
    for step in decision.steps:
        if isinstance(step, JoinConference):
            out.append(((f"room {step.room}",), None))
        else:
            labels = tuple(leg.extension if isinstance(leg, Phone) else leg.number for leg in step.legs)
            out.append((labels, step.timeout))
    return out


class TestCallFacts:
    def test_naive_time_is_refused(self):
        """
        A call time without a zone cannot be read against a schedule, so it is refused outright.
        """
        with pytest.raises(ValueError, match="aware"):
            CallFacts(caller="101", dialled="102", at=datetime(2026, 11, 27, 11, 0))


class TestWhatWasDialled:
    def test_extension(self):
        """
        An extension rings, then follows its no-answer forward to the mobile.
        """
        decision = route(office(), call("102", "101"))

        assert (DecisionKind.RING, Direction.INTERNAL) == (decision.kind, decision.direction)
        assert [(("101",), 20), (("+79161112233",), 30)] == rung(decision)
        assert ("102", "Olga Smirnova") == (decision.caller_id, decision.caller_name)

    def test_group_number(self):
        """
        A group's number rings the group.
        """
        assert [(("101", "102", "103"), 25)] == rung(route(office(), call("104", "600")))

    @pytest.mark.parametrize(("room", "pin"), [("800", True), ("801", False)])
    def test_conference_room(self, room, pin):
        """
        A room number puts the caller in the room, saying whether a PIN is asked.
        """
        decision = route(office(), call("102", room))

        assert DecisionKind.CONFERENCE == decision.kind
        assert (room, pin) == (decision.steps[0].room, decision.steps[0].pin_required)

    @pytest.mark.parametrize("code", ["*11", "40"])
    def test_pickup_code(self, code):
        """
        A pickup code takes a call ringing at the caller's pickup group.
        """
        decision = route(office(), call("102", code))

        assert (DecisionKind.PICKUP, ("101", "103")) == (decision.kind, decision.peers)

    def test_pickup_outside_any_group_is_rejected(self):
        """
        A phone in no pickup group has nothing to pick up.
        """
        decision = route(office(), call("104", "*11"))

        assert (DecisionKind.REJECTED, Cause.NOT_FOUND) == (decision.kind, decision.cause)

    @pytest.mark.parametrize(
        ("dialled", "kind"),
        [("555101", DecisionKind.LISTEN), ("556101", DecisionKind.WHISPER), ("557101", DecisionKind.BARGE)],
    )
    def test_supervisor_prefixes(self, dialled, kind):
        """
        Prefix + extension: a supervisor listens to, whispers to or barges into that phone's call.
        """
        decision = route(office(), call("104", dialled))

        assert (kind, ("101",)) == (decision.kind, decision.peers)

    def test_supervising_needs_the_supervisor_class(self):
        """
        A phone without permission class 'supervisor' may not listen in.
        """
        decision = route(office(), call("102", "555101"))

        assert (DecisionKind.REJECTED, Cause.FORBIDDEN) == (decision.kind, decision.cause)
        assert "102 may not listen (needs permission 'supervisor')" == decision.reason

    def test_prefix_without_an_extension_is_just_a_number(self):
        """
        555 followed by something that is not an extension goes on to the outbound routes.
        """
        decision = route(office(), call("104", "5559999"))

        assert (DecisionKind.REJECTED, Cause.NOT_FOUND) == (decision.kind, decision.cause)
        assert decision.reason.startswith("nothing answers to 5559999")

    def test_unknown_caller_is_rejected(self):
        """
        A caller that is not an extension of the plan may only call emergency numbers.
        """
        assert Cause.FORBIDDEN == route(office(), call("999", "101")).cause

    def test_disabled_caller_may_only_call_emergency(self):
        """
        A disabled phone is refused everything but the emergency numbers.
        """
        plan = office(extensions={"102": {"disabled": True}})

        assert [DecisionKind.REJECTED, DecisionKind.OUTBOUND] == [
            route(plan, call("102", "101")).kind,
            route(plan, call("102", "112")).kind,
        ]

    def test_calling_oneself_rings_nobody(self):
        """
        A phone never rings itself.
        """
        decision = route(office(), call("102", "102"))

        assert (DecisionKind.HANGUP, Cause.BUSY, []) == (decision.kind, decision.cause, rung(decision))


class TestForwarding:
    def test_always_skips_ringing(self):
        """
        forward.always sends the call on without ringing the phone.
        """
        plan = office(extensions={"101": {"forward": {"always": "ext:102"}}})

        assert [(("102",), 30)] == rung(route(plan, call("100", "101")))

    @pytest.mark.parametrize(
        ("change", "facts"),
        [({"dnd": True}, {}), ({}, {"unavailable": frozenset({"102"})})],
        ids=["dnd", "not registered"],
    )
    def test_dnd_and_not_registered_take_the_unavailable_forward(self, change, facts):
        """
        A phone on DND, or not registered, is not rung; its unavailable forward is.
        """
        plan = office(extensions={"102": {**change, "forward": {"unavailable": "ext:103"}}})

        assert [(("103",), 30)] == rung(route(plan, call("100", "102", **facts)))

    def test_unavailable_without_forward_hangs_up(self):
        """
        Nothing left to ring: hang up as unavailable, saying why.
        """
        decision = route(office(), call("100", "102", unavailable=frozenset({"102"})))

        assert (DecisionKind.HANGUP, Cause.UNAVAILABLE) == (decision.kind, decision.cause)
        assert "102 (Olga Smirnova) is not registered and has no 'unavailable' forward" == decision.reason

    def test_busy_takes_the_busy_forward(self):
        """
        A busy phone is not rung; its busy forward is.
        """
        plan = office(extensions={"102": {"forward": {"busy": "ext:103"}}})

        assert [(("103",), 30)] == rung(route(plan, call("100", "102", busy=frozenset({"102"}))))

    def test_busy_without_forward_hangs_up_busy(self):
        """
        A busy phone without a busy forward gives the caller busy.
        """
        decision = route(office(), call("100", "102", busy=frozenset({"102"})))

        assert (DecisionKind.HANGUP, Cause.BUSY) == (decision.kind, decision.cause)

    def test_disabled_extension_and_its_forwards_are_skipped(self):
        """
        A disabled phone never rings, and its own forwards (its mobile) are not followed either.
        """
        plan = office(extensions={"101": {"disabled": True, "forward": {"unavailable": "mobile"}}})
        decision = route(plan, call("100", "101"))

        assert (DecisionKind.HANGUP, Cause.UNAVAILABLE, []) == (decision.kind, decision.cause, rung(decision))

    def test_mobile_goes_out_by_the_first_matching_route_whatever_the_permissions(self):
        """
        A forward to the mobile is company policy: a phone with no outbound class still forwards,
        through the first route that matches, presenting the company's numbers.
        """
        plan = office(
            extensions={"103": {"outbound": [], "mobile": "+79163334455", "forward": {"always": "mobile"}}}
        )
        decision = route(plan, call("100", "103"))
        expected = External(
            number="+79163334455",
            dial="+79163334455",
            via=(Via("main", DID), Via("backup", "+74957654321")),
            route="russia",
            record=True,
            for_extension="103",
        )

        assert (expected,) == decision.legs()

    def test_mobile_without_a_route_is_skipped(self):
        """
        A mobile no outbound route reaches is skipped, and the explanation says so.
        """
        plan = office(outbound=[])
        decision = route(plan, call("100", "101"))

        assert [(("101",), 20)] == rung(decision)
        assert "no outbound route reaches +79161112233 (mobile of 101): skipped" in decision.explanation

    def test_our_own_did_is_routed_here(self):
        """
        A forward to one of our own DIDs follows that DID's inbound route, not the carrier.
        """
        plan = office(extensions={"100": {"forward": {"always": f"number:{DID}"}}})
        decision = route(plan, call("104", "100"))

        assert [(("101", "102", "103"), 25)] == rung(decision)
        assert f"{DID} is our own number: its inbound route decides (no trunk used)" in decision.explanation

    def test_ext_target_naming_a_group_number_rings_the_group(self):
        """
        ext:600, the number of group sales, rings the group (as the validator reads it).
        """
        plan = office(extensions={"100": {"forward": {"always": "ext:600"}}})

        assert [(("101", "102", "103"), 25)] == rung(route(plan, call("104", "100")))


class TestGroups:
    def test_ringall_leaves_out_phones_that_cannot_answer(self):
        """
        Ringall rings every member at once, except the caller and DND, unregistered, busy or
        disabled phones.
        """
        plan = office(
            extensions={"104": {"dnd": True}, "103": {"disabled": True}},
            groups={"sales": {"members": ["100", "101", "102", "103", "104"]}},
        )
        facts = call("101", "600", unavailable=frozenset({"102"}), busy=frozenset({"100"}))
        decision = route(plan, facts)

        assert [] == rung(decision)
        assert (
            "group sales leaves out: 100 (Reception) is busy; 101 (Ivan Petrov) is the caller; "
            "102 (Olga Smirnova) is not registered; 103 (Anna Kuznetsova) is disabled; "
            "104 (Pavel Orlov) is on do-not-disturb"
        ) in decision.explanation

    def test_sequential_rings_each_member_within_the_group_timeout(self):
        """
        Sequential: each member for member_timeout, in order, the last cut to what is left.
        """
        plan = office(groups={"sales": {"strategy": "sequential", "member_timeout": "15s", "timeout": "40s"}})

        assert [(("101",), 15), (("102",), 15), (("103",), 10)] == rung(route(plan, call("104", "600")))

    def test_sequential_stops_when_the_time_is_used_up(self):
        """
        Members past the group timeout are not rung.
        """
        plan = office(groups={"sales": {"strategy": "sequential", "member_timeout": "15s", "timeout": "30s"}})

        assert [(("101",), 15), (("102",), 15)] == rung(route(plan, call("104", "600")))

    @pytest.mark.parametrize(
        ("last", "order"),
        [("102", ["103", "101", "102"]), ("103", ["101", "102", "103"]), (None, ["101", "102", "103"])],
    )
    def test_hunt_starts_after_who_answered_last(self, last, order):
        """
        Hunt: like sequential, starting after the member who answered the group's last call.
        """
        plan = office(groups={"sales": {"strategy": "hunt", "member_timeout": "10s", "timeout": "60s"}})
        facts = call("104", "600", last_answered={"sales": last} if last else {})

        assert [((m,), 10) for m in order] == rung(route(plan, facts))

    def test_overflow_after_the_group(self):
        """
        When nobody in the group answers the overflow target rings.
        """
        plan = office(groups={"sales": {"overflow": "ext:100"}})

        assert [(("101", "102", "103"), 25), (("100",), 30)] == rung(route(plan, call("104", "600")))

    def test_nobody_available_goes_straight_to_overflow(self):
        """
        A group nobody can answer rings its overflow at once.
        """
        plan = office(groups={"sales": {"overflow": "ext:100"}})
        facts = call("104", "600", unavailable=frozenset({"101", "102", "103"}))

        assert [(("100",), 30)] == rung(route(plan, facts))

    def test_nobody_available_and_no_overflow_hangs_up(self):
        """
        Nobody to ring and nowhere to overflow: hang up, unavailable.
        """
        decision = route(office(), call("104", "600", unavailable=frozenset({"101", "102", "103"})))

        assert (DecisionKind.HANGUP, Cause.UNAVAILABLE) == (decision.kind, decision.cause)


class TestInbound:
    @pytest.mark.parametrize(
        ("at", "expected"),
        [
            (FRIDAY, [(("101", "102", "103"), 25)]),
            (SATURDAY_EVENING, [(("100",), 30)]),
            (datetime(2026, 12, 31, 11, 0, tzinfo=MOSCOW), [(("100",), 30)]),
        ],
        ids=["open", "closed", "holiday"],
    )
    def test_schedule_picks_to_or_otherwise(self, at, expected):
        """
        to while the schedule is open; otherwise after hours and on holidays.
        """
        decision = route(office(), incoming(at=at))

        assert (DecisionKind.RING, Direction.INBOUND) == (decision.kind, decision.direction)
        assert expected == rung(decision)

    @pytest.mark.parametrize("dialled", ["74951234567", "84951234567", "4951234567"])
    def test_did_as_the_carrier_sends_it(self, dialled):
        """
        Carriers send DIDs without +, with 8, or without the country code: all find the route.
        """
        assert rung(route(office(), incoming())) == rung(route(office(), incoming(dialled=dialled)))

    def test_any_route_takes_other_dids(self):
        """
        A DID with no route of its own goes by the ``any`` route.
        """
        plan = office(inbound=[*OFFICE["inbound"], {"number": "any", "to": "ext:102"}])

        assert [(("102",), 30)] == rung(route(plan, incoming(dialled="+74951234560")))

    def test_no_route_is_rejected(self):
        """
        A DID nobody routes is refused.
        """
        decision = route(office(), incoming(dialled="+74951234560"))

        assert (DecisionKind.REJECTED, Cause.NOT_FOUND) == (decision.kind, decision.cause)
        assert "no inbound route for +74951234560 (and no 'any' route)" == decision.reason

    def test_unknown_trunk_is_rejected(self):
        """
        A call from a trunk the plan does not know is refused.
        """
        decision = route(office(), CallFacts(caller=CLIENT, dialled=DID, at=FRIDAY, trunk="other"))

        assert (DecisionKind.REJECTED, "trunk other is not in this plan") == (decision.kind, decision.reason)

    def test_fallback_follows_to(self):
        """
        When to does not answer, fallback rings.
        """
        plan = office(inbound=[{**OFFICE["inbound"][0], "fallback": "ext:104"}])

        assert [(("101", "102", "103"), 25), (("104",), 30)] == rung(route(plan, incoming()))

    def test_fallback_does_not_follow_otherwise(self):
        """
        After hours otherwise is the whole story: fallback belongs to to.
        """
        plan = office(inbound=[{**OFFICE["inbound"][0], "fallback": "ext:104"}])

        assert [(("100",), 30)] == rung(route(plan, incoming(at=SATURDAY_EVENING)))

    def test_hangup_target_ends_the_call(self):
        """
        to: hangup hangs up at once; a fallback after it is never reached.
        """
        plan = office(inbound=[{"number": DID, "to": "hangup", "fallback": "ext:100"}])
        decision = route(plan, incoming())

        assert (DecisionKind.HANGUP, Cause.HANGUP, []) == (decision.kind, decision.cause, rung(decision))

    def test_closed_without_otherwise_hangs_up(self):
        """
        A route the validator would refuse (schedule, no otherwise) still gives an answer: closed.
        """
        plan = office(inbound=[{"number": DID, "schedule": "office", "to": "ext:100"}])
        decision = route(plan, incoming(at=SATURDAY_EVENING))

        assert (DecisionKind.HANGUP, Cause.CLOSED) == (decision.kind, decision.cause)

    def test_conference_target(self):
        """
        An inbound route may put callers straight into a room.
        """
        plan = office(inbound=[{"number": DID, "to": "conference:801"}])

        assert DecisionKind.CONFERENCE == route(plan, incoming()).kind

    def test_caller_id_shown_on_phones(self):
        """
        Phones show the caller in E.164 (raw when it is not a number) with the route's label.
        """
        plan = office(inbound=[{**OFFICE["inbound"][0], "caller_id_name": "Sales line"}])

        assert [("+79161234567", "Sales line"), ("anonymous", "Sales line")] == [
            (d.caller_id, d.caller_name)
            for d in (route(plan, incoming(caller="89161234567")), route(plan, incoming(caller="anonymous")))
        ]


class TestResponsibleFirst:
    PLAN = office(inbound=[{**OFFICE["inbound"][0], "responsible_first": True, "responsible_timeout": "12s"}])

    def test_rings_the_responsible_manager_first(self):
        """
        A known client's responsible manager rings alone first, then the route's target.
        """
        decision = route(self.PLAN, incoming(responsible="104"))

        assert [(("104",), 12), (("101", "102", "103"), 25)] == rung(decision)

    @pytest.mark.parametrize(
        ("responsible", "facts", "why"),
        [
            (None, {}, "responsible first: the CRM knows no responsible manager for this caller"),
            ("999", {}, "responsible first: 999 is not an extension of this plan: skipped"),
            ("104", {"busy": frozenset({"104"})}, "responsible first: 104 (Pavel Orlov) is busy: skipped"),
        ],
    )
    def test_skipped_when_the_manager_cannot_answer(self, responsible, facts, why):
        """
        Unknown client, an unknown extension or a manager who cannot answer: straight to the target.
        """
        decision = route(self.PLAN, incoming(responsible=responsible, **facts))

        assert [(("101", "102", "103"), 25)] == rung(decision)
        assert why in decision.explanation

    def test_not_after_hours(self):
        """
        Responsible first belongs to the to branch: after hours the office (and the manager) is closed.
        """
        assert [(("100",), 30)] == rung(route(self.PLAN, incoming(at=SATURDAY_EVENING, responsible="104")))


class TestOutbound:
    def test_national_call_with_failover(self):
        """
        The first route that matches carries the call: its trunk, then its failover, each
        presenting its own number; the phone rings as long as the caller waits.
        """
        decision = route(office(), call("101", "+79161234567"))
        expected = External(
            number="+79161234567",
            dial="+79161234567",
            via=(Via("main", DID), Via("backup", "+74957654321")),
            route="russia",
            record=True,
        )

        assert (DecisionKind.OUTBOUND, Direction.OUTBOUND) == (decision.kind, decision.direction)
        assert ((expected,), None) == (decision.steps[0].legs, decision.steps[0].timeout)

    def test_strip_and_prefix(self):
        """
        strip 1 + prefix +7 sends 8 916 ... to the trunk as +7 916 ...
        """
        leg = route(office(), call("101", "89161234567")).legs()[0]

        assert ("+79161234567", "+79161234567", "russia-8") == (leg.dial, leg.number, leg.route)

    def test_permission_class_is_checked(self):
        """
        A phone without the route's class is refused, with the reason in words.
        """
        decision = route(office(), call("101", "0044201234567"))

        assert (DecisionKind.REJECTED, Cause.FORBIDDEN) == (decision.kind, decision.cause)
        assert (
            "101 may not call 0044201234567: outbound route international needs permission "
            "'international' (101 holds: national)"
        ) == decision.reason

    def test_route_caller_id_wins_over_the_trunks(self):
        """
        A route's caller_id is presented on every trunk it uses.
        """
        leg = route(office(), call("104", "0044201234567")).legs()[0]

        assert (Via("main", "+74951234560"),) == leg.via

    def test_a_later_route_the_phone_may_use(self):
        """
        Routes the phone may not use are passed over for a later one that matches too.
        """
        vip = {"name": "vip", "match": r"\+7\d{10}", "trunk": "backup", "permission": "vip"}
        plan = office(outbound=[vip, *OFFICE["outbound"]])

        assert "russia" == route(plan, call("101", "+79161234567")).legs()[0].route

    def test_emergency_tries_every_trunk(self):
        """
        An emergency call goes by its route, then every other trunk, from any phone.
        """
        plan = office(extensions={"102": {"disabled": True, "outbound": []}})
        leg = route(plan, call("102", "112")).legs()[0]

        assert (("main", "backup"), "112") == (tuple(v.trunk for v in leg.via), leg.dial)

    def test_emergency_without_a_route_uses_the_trunks(self):
        """
        With no route for it (the validator would object) an emergency number still goes out.
        """
        plan = office(outbound=[])

        assert ("main", "backup") == tuple(v.trunk for v in route(plan, call("101", "112")).legs()[0].via)

    def test_emergency_without_trunks_is_rejected(self):
        """
        With no trunk at all there is no way out.
        """
        plan = DialplanSpec.model_validate({"extensions": {"101": {"name": "Lonely phone"}}})

        assert Cause.NO_ROUTE == route(plan, call("101", "112")).cause


class TestRecording:
    def test_inbound_policy_and_an_extension_that_never_records(self):
        """
        Inbound calls follow the inbound policy, except when a 'never' phone answers.
        """
        plan = office(extensions={"102": {"recording": "never"}})

        assert [True, False, True] == [leg.record for leg in route(plan, incoming()).legs()]

    def test_outbound_caller_mode_wins(self):
        """
        The calling phone's own mode overrides the outbound policy.
        """
        plan = office(extensions={"101": {"recording": "never"}})

        assert [False] == [leg.record for leg in route(plan, call("101", "+79161234567")).legs()]

    def test_internal_caller_first_then_callee(self):
        """
        Internal calls: the caller's mode, else the callee's, else the internal policy (never).
        """
        plan = office(extensions={"100": {"recording": "always"}, "103": {"recording": "always"}})

        assert [True, False, True] == [
            route(plan, call("100", "102")).legs()[0].record,
            route(plan, call("102", "101")).legs()[0].record,
            route(plan, call("102", "103")).legs()[0].record,
        ]

    def test_forward_outside_follows_the_forwarding_extension(self):
        """
        A forward to a mobile records as its extension says; an internal call forwarded outside
        follows the outbound policy.
        """
        plan = office(extensions={"101": {"recording": "never"}}, inbound=[{"number": DID, "to": "ext:101"}])

        assert [False, True] == [
            route(plan, incoming()).legs()[-1].record,
            route(office(), call("102", "101")).legs()[-1].record,
        ]

    def test_conference_follows_the_policy(self):
        """
        A room joined from a phone records by the internal policy.
        """
        step = route(office(), call("102", "801")).steps[0]

        assert (JoinConference, False) == (type(step), step.record)


class TestLoops:
    def test_forwarding_loop_ends(self):
        """
        Two phones forwarding every call to each other ring nobody, and the explanation says why.
        """
        plan = office(
            extensions={"102": {"forward": {"always": "ext:103"}}, "103": {"forward": {"always": "ext:102"}}}
        )
        decision = route(plan, call("100", "102"))

        assert (DecisionKind.HANGUP, []) == (decision.kind, rung(decision))
        assert "ext:102 was already tried on this call: skipped (no loops)" in decision.explanation

    def test_long_chains_stop_at_max_depth(self):
        """
        A chain of no-answer forwards longer than MAX_DEPTH is cut there.
        """
        chain = {
            f"2{i:02d}": {
                "name": f"Chain {i}",
                "forward": {"no_answer": {"to": f"ext:2{i + 1:02d}", "after": 5}},
            }
            for i in range(MAX_DEPTH + 5)
        }
        decision = route(office(extensions=chain), call("100", "200"))

        assert MAX_DEPTH + 1 == len(decision.steps)
        assert f"stopped at ext:2{MAX_DEPTH + 1:02d}: forwards nest deeper than {MAX_DEPTH} (a loop?)" in (
            decision.explanation
        )


class TestExplain:
    PLAN = office(extensions={"103": {"recording": "never"}})

    def test_after_hours_to_a_phone_that_forwards_to_its_mobile(self):
        """
        The worked example: Saturday evening, reception forwards no-answer to Ivan's mobile.
        """
        plan = office(extensions={"100": {"forward": {"no_answer": {"to": "ext:101", "after": "15s"}}}})

        assert [
            "1. +79161234567 called +74951234567 (trunk main) on Sat 2026-11-28 19:00 Europe/Moscow",
            "2. inbound route +74951234567: schedule office is closed "
            "(Sat 19:00 Europe/Moscow: no hours on Saturdays) -> otherwise: ext:100",
            "3. ring 100 (Reception) for 15 s; no answer -> forward to ext:101",
            "4. ring 101 (Ivan Petrov) for 20 s; no answer -> forward to mobile",
            "5. ring +79161112233 (mobile of 101) for 30 s: dial +79161112233 via trunk main "
            "presenting +74951234567, then trunk backup presenting +74957654321",
            "6. recording: on (inbound policy always)",
        ] == explain(plan, incoming(at=SATURDAY_EVENING))

    def test_open_hours_with_skipped_members_and_mixed_recording(self):
        """
        During hours: the group, who is left out and why, and who records.
        """
        assert [
            "1. +79161234567 called +74951234567 (trunk main) on Fri 2026-11-27 11:00 Europe/Moscow",
            "2. inbound route +74951234567: schedule office is open "
            "(Fri 11:00 Europe/Moscow: hours on Fridays 09:00-18:00) -> to: group:sales",
            "3. group sales leaves out: 102 (Olga Smirnova) is busy",
            "4. ring group sales (ringall) for 25 s: 101 (Ivan Petrov), 103 (Anna Kuznetsova)",
            "5. recording: on for 101 (inbound policy always); off for 103 (103 records never)",
        ] == explain(self.PLAN, incoming(busy=frozenset({"102"})))

    def test_rejection(self):
        """
        A refused call ends with the reason.
        """
        assert [
            "1. 101 called 0044201234567 on Fri 2026-11-27 11:00 Europe/Moscow",
            "2. rejected: 101 may not call 0044201234567: outbound route international needs "
            "permission 'international' (101 holds: national)",
        ] == explain(self.PLAN, call("101", "0044201234567"))


class TestCallFactsFromEnds:
    def test_outside_caller_comes_in_on_the_trunk_of_the_did(self):
        """
        A caller that is not an extension arrives on the trunk carrying the DID; a naive time is
        read in the plan's zone.
        """
        facts = call_facts(office(), CLIENT, "+74957654321", datetime(2026, 11, 28, 19, 0))

        assert ("backup", SATURDAY_EVENING) == (facts.trunk, facts.at)

    def test_extension_caller_is_internal(self):
        """
        A caller that is an extension dials from its phone: no trunk.
        """
        assert None is call_facts(office(), "101", DID, FRIDAY).trunk

    def test_unknown_did_uses_the_first_trunk(self):
        """
        A DID no trunk carries still comes in, on the first trunk.
        """
        assert "main" == call_facts(office(), CLIENT, "+74990000000", FRIDAY, responsible="104").trunk
