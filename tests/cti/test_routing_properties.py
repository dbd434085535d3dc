"""Properties of the routing engine over small random plans and calls (hypothesis).

The plans are built from strategies, straight into :class:`DialplanSpec`, and are deliberately not
all valid for :mod:`config.dialplan`: forwarding loops, disabled members, ``mobile`` where it means
nothing, schedules without ``otherwise``. The engine must stay safe and finite on them too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.dialplan_spec import DAYS, DialplanSpec
from cti.routing import (
    CallFacts,
    DecisionKind,
    External,
    JoinConference,
    Phone,
    Ring,
    RouteDecision,
    explain,
    route,
)

# No example database (no .hypothesis/ in the work tree); no timing checks on a busy CI machine.
PROPERTY = settings(
    database=None, deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow]
)
EXTENSIONS = ("101", "102", "103", "104", "105")
GROUPS = ("sales", "support")
DIDS = ("+74951234567", "+74951234560")
OUTSIDE = "+79165550000"
ZONES = ("Europe/Moscow", "Europe/Berlin", "America/New_York")
CLASSES = ("national", "international", "supervisor")
RARELY = st.sampled_from((False,) * 5 + (True,))
"True about one time in six: enough disabled and DND phones, enough that ring."


def targets(numbers: list[str], groups: list[str], *, forward: bool) -> st.SearchStrategy[str]:
    choices = [f"ext:{n}" for n in numbers] + [f"group:{g}" for g in groups]
    choices += ["hangup", "conference:800", f"number:{OUTSIDE}", f"number:{DIDS[0]}", "ext:199"]
    return st.sampled_from([*choices, "mobile"] if forward else choices)


@st.composite
def hours(draw: st.DrawFn) -> dict[str, str]:
    out = {}
    for day in DAYS:
        start = draw(st.integers(0, 23))
        end = draw(st.integers(start + 1, 24))
        if draw(st.booleans()):
            out[day] = f"{start:02d}:00-{end:02d}:00"
    return out


@st.composite
def plans(draw: st.DrawFn) -> DialplanSpec:
    """A small office: up to five phones, two groups, one room, two trunks, random forwards."""
    numbers = draw(st.lists(st.sampled_from(EXTENSIONS), min_size=2, max_size=5, unique=True))
    groups = draw(st.lists(st.sampled_from(GROUPS), min_size=1, max_size=2, unique=True))
    anything = targets(numbers, groups, forward=True)
    extensions = {}
    for number in numbers:
        forward = {key: draw(st.none() | anything) for key in ("busy", "unavailable")}
        if draw(RARELY):
            forward["always"] = draw(anything)
        if not draw(RARELY):
            forward["no_answer"] = {"to": draw(anything), "after": draw(st.integers(1, 60))}
        extensions[number] = {
            "name": f"Phone {number}",
            "mobile": draw(st.none() | st.just(f"+7916111{number}0")),
            "forward": forward,
            "dnd": draw(RARELY),
            "disabled": draw(RARELY),
            "recording": draw(st.sampled_from(["always", "never", "inherit"])),
            "outbound": draw(
                st.lists(st.sampled_from(["national", "international", "supervisor"]), unique=True)
            ),
        }
    overflow = targets(numbers, groups, forward=False)
    spec = {
        "timezone": draw(st.sampled_from(ZONES)),
        "extensions": extensions,
        "groups": {
            name: {
                "number": f"60{index}",
                "members": draw(st.lists(st.sampled_from(numbers), min_size=1, unique=True)),
                "strategy": draw(st.sampled_from(["ringall", "sequential", "hunt"])),
                "member_timeout": draw(st.integers(1, 30)),
                "timeout": draw(st.integers(1, 60)),
                "pickup": draw(st.booleans()),
                "overflow": draw(st.none() | overflow),
            }
            for index, name in enumerate(groups)
        },
        "conferences": {"800": {"name": "Room", "pin": draw(st.none() | st.just("1234"))}},
        "trunks": {
            "main": {"host": "sip.example.net", "numbers": [DIDS[0]], "caller_id": DIDS[0]},
            "backup": {"host": "sip.backup.example", "numbers": [DIDS[1]]},
        },
        "inbound": [
            {
                "number": draw(st.sampled_from([DIDS[0], "any"])),
                "to": draw(overflow),
                "schedule": draw(st.none() | st.just("office")),
                "otherwise": draw(overflow) if not draw(RARELY) else None,
                "fallback": draw(st.none() | overflow),
                "responsible_first": draw(st.booleans()),
                "responsible_timeout": draw(st.integers(1, 30)),
            }
        ],
        "outbound": draw(
            st.sampled_from(
                [
                    [],
                    [{"match": r"\+7\d{10}", "trunk": "main", "failover": "backup"}],
                    [
                        {"match": r"\+7\d{10}", "trunk": "backup", "permission": "international"},
                        {"match": r"\+7\d{10}|112", "trunk": "main"},
                    ],
                ]
            )
        ),
        "schedules": {"office": {"timezone": draw(st.sampled_from(ZONES)), "hours": draw(hours())}},
        "recording": {
            key: draw(st.sampled_from(["always", "never"])) for key in ("inbound", "outbound", "internal")
        },
    }
    return DialplanSpec.model_validate(spec)


@st.composite
def calls(draw: st.DrawFn) -> tuple[DialplanSpec, CallFacts]:
    """A plan and a call on it: from a phone (anything dialled) or from outside (a DID)."""
    plan = draw(plans())
    numbers = list(plan.extensions)
    states = st.frozensets(st.sampled_from(numbers), max_size=2)
    zones = st.sampled_from([UTC, *map(ZoneInfo, ZONES)])
    common = {
        "at": draw(st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=zones)),
        "unavailable": draw(states),
        "busy": draw(states),
        "responsible": draw(st.none() | st.sampled_from([*numbers, "199"])),
        "last_answered": {name: draw(st.sampled_from(numbers)) for name in plan.groups},
    }
    if draw(st.booleans()):
        did = draw(st.sampled_from((DIDS[0], DIDS[0], DIDS[1])))
        return plan, CallFacts(caller="+79161234567", dialled=did, trunk="main", **common)
    caller = "199" if draw(RARELY) else draw(st.sampled_from(numbers))
    others = [n for n in numbers if n != caller]
    features = ["600", "601", "800", "*11", "40", "112", "999", OUTSIDE, DIDS[0]]
    dialled = draw(st.sampled_from([*others, *features, *(f"555{n}" for n in others)]))
    return plan, CallFacts(caller=caller, dialled=dialled, **common)


def phones(decision: RouteDecision) -> list[Phone]:
    return [leg for leg in decision.legs() if isinstance(leg, Phone)]


class TestRouteProperties:
    @PROPERTY
    @given(call=calls())
    def test_never_rings_a_phone_that_cannot_answer(self, call):
        """
        No leg rings a disabled, DND, unregistered or busy phone, the caller, or a number that is
        not an extension; no forward leaves through a disabled phone; no peer is disabled.
        """
        plan, facts = call
        decision = route(plan, facts)
        cannot = {n for n, ext in plan.extensions.items() if ext.disabled or ext.dnd}
        cannot |= facts.unavailable | facts.busy | {facts.caller}

        assert [] == [p.extension for p in phones(decision) if p.extension in cannot]
        assert all(p.extension in plan.extensions for p in phones(decision))
        assert [] == [
            leg
            for leg in decision.legs()
            if isinstance(leg, External) and leg.for_extension and plan.extensions[leg.for_extension].disabled
        ]
        assert [] == [peer for peer in decision.peers if plan.extensions[peer].disabled]

    @PROPERTY
    @given(call=calls())
    def test_deterministic(self, call):
        """
        The same plan and facts always give the same decision and the same explanation.
        """
        plan, facts = call

        assert route(plan, facts) == route(plan, facts)
        assert explain(plan, facts) == explain(plan, facts)

    @PROPERTY
    @given(call=calls())
    def test_finite_and_executable(self, call):
        """
        Even with forwarding loops the steps are few; each ring step has legs and a positive
        timeout (none only for calls that go out), every trunk exists, a room is the last step.
        """
        plan, facts = call
        decision = route(plan, facts)
        bound = 3 + 2 * len(plan.extensions) + sum(len(g.members) + 1 for g in plan.groups.values())
        bound += 3 * len(plan.inbound)

        assert len(decision.steps) <= bound
        for position, step in enumerate(decision.steps):
            if isinstance(step, JoinConference):
                assert position == len(decision.steps) - 1
                continue
            assert step.legs
            assert (step.timeout is None) == (decision.kind is DecisionKind.OUTBOUND)
            assert step.timeout is None or step.timeout > 0
        for leg in decision.legs():
            if isinstance(leg, External):
                assert leg.via
                assert all(via.trunk in plan.trunks for via in leg.via)

    @PROPERTY
    @given(call=calls())
    def test_kind_agrees_with_the_steps(self, call):
        """
        Hang-ups and rejections have no steps and a cause; ring, conference and outbound have
        steps and no cause; the explanation starts with the call and is numbered from 1.
        """
        plan, facts = call
        decision = route(plan, facts)
        lines = explain(plan, facts)

        if decision.kind in (DecisionKind.HANGUP, DecisionKind.REJECTED):
            assert ((), True, True) == (decision.steps, decision.cause is not None, bool(decision.reason))
        elif decision.kind in (DecisionKind.RING, DecisionKind.CONFERENCE, DecisionKind.OUTBOUND):
            assert (True, None) == (bool(decision.steps), decision.cause)
        assert lines[0].startswith(f"1. {facts.caller} called {facts.dialled}")
        assert [f"{n}." for n in range(1, len(lines) + 1)] == [line.split(" ", 1)[0] for line in lines]

    @PROPERTY
    @given(call=calls())
    def test_groups_ring_within_their_timeout(self, call):
        """
        The ring steps of one group add up to no more than the group's timeout.
        """
        plan, facts = call
        decision = route(plan, facts)

        for name, group in plan.groups.items():
            spent = sum(
                step.timeout or 0
                for step in decision.steps
                if isinstance(step, Ring) and step.why.startswith(f"group {name} (")
            )
            assert spent <= group.timeout
