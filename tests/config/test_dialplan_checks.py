"""The checks that need the whole plan: each with a failing example and its exact message."""

from __future__ import annotations

import pytest

from config.dialplan import DialplanError, parse_dialplan

from .helpers import issues

OUTSIDE = """\
trunks:
  main: {host: sip.example.net, numbers: ["+74951234567"]}
inbound:
  - {number: "+74951234567", to: ext:101}
"""
"A trunk and its route for tests about the outside world; the tests add extensions and outbound routes."


class TestWarnings:
    def test_warnings_do_not_raise(self):
        """
        A plan with only warnings parses: the spec comes back with the warnings beside it.
        """
        spec, warnings = parse_dialplan(
            """\
extensions:
  "101": {name: Anna}
schedules:
  spare: {hours: {mon-fri: "09:00-18:00"}}
""",
            path="t.yaml",
        )

        assert ["101"] == list(spec.extensions)
        assert [
            "t.yaml:4:3: warning: schedule 'spare' is not used by any inbound route "
            "(expected schedule: spare on a route, or remove it)"
        ] == [str(warning) for warning in warnings]

    def test_errors_raise_with_the_warnings_after_them(self):
        """
        With an error, DialplanError holds the errors first, then the warnings.
        """
        with pytest.raises(DialplanError) as info:
            parse_dialplan(
                """\
extensions:
  "101": {name: Anna, user: anna}
  "102": {name: Anna, user: anna, forward: {busy: ext:105}}
""",
                path="t.yaml",
            )

        assert [
            "t.yaml:3:45: ext:105 is not an extension or a group number (expected one of: 101, 102)",
            "t.yaml:3:23: warning: user 'anna' is also at extension 101 (line 2; expected one extension per "
            "login)",
        ] == str(info.value).splitlines()


class TestTargets:
    def test_an_extension_that_does_not_exist(self):
        """
        ext:105 names no extension and no group number.
        """
        assert [
            "t.yaml:3:33: ext:105 is not an extension or a group number (expected one of: 101, 102)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna}
              "102": {name: Ivan, forward: {busy: ext:105}}
            """
        )

    def test_a_group_number_is_a_valid_ext_target(self):
        """
        ext:200 where 200 is the number of a group is fine.
        """
        assert [] == issues(
            """\
            extensions:
              "101": {name: Anna, forward: {busy: ext:200}}
              "102": {name: Ivan}
            groups:
              sales: {number: "200", members: ["102"]}
            """
        )

    def test_a_group_that_does_not_exist(self):
        """
        group:x names no group.
        """
        assert ["t.yaml:2:33: group:x is not a group (expected one of: sales)"] == issues(
            """\
            extensions:
              "101": {name: Anna, forward: {busy: group:x}}
            groups:
              sales: {number: "200", members: ["101"]}
            """
        )

    def test_a_conference_room_that_does_not_exist(self):
        """
        conference:900 names no room; with none defined the message says so.
        """
        assert [
            "t.yaml:2:33: conference:900 is not a conference room "
            "(expected a room under conferences:, and there is none yet)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna, forward: {busy: conference:900}}
            """
        )

    def test_mobile_is_only_for_forwards(self):
        """
        An inbound route cannot send a call to 'mobile': whose mobile?
        """
        assert [
            "t.yaml:6:30: mobile is only for an extension's forwards "
            "(expected ext:, group:, conference:, number: or hangup here)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna}
            trunks:
              main: {host: sip.example.net, numbers: ["+74951234567"]}
            inbound:
              - {number: "+74951234567", to: mobile}
            outbound:
              - {match: ['^112$'], trunk: main}
            """
        )

    def test_mobile_needs_a_mobile(self):
        """
        Forwarding to mobile from an extension without one.
        """
        assert [
            "t.yaml:2:33: extension 101 has no mobile to forward to "
            "(expected a mobile: key on the extension, or another target)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna, forward: {unavailable: mobile}}
            """
        )

    def test_a_disabled_extension_as_target_is_a_warning(self):
        """
        Sending calls to a disabled phone is allowed but suspicious.
        """
        assert [
            "t.yaml:2:33: warning: ext:102 is disabled, calls sent there ring nowhere "
            "(expected an extension in service)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna, forward: {busy: ext:102}}
              "102": {name: Ivan, disabled: true}
            """
        )


class TestNumbers:
    def test_a_number_used_twice(self):
        """
        A group number that is also a conference room.
        """
        assert [
            "t.yaml:6:3: conference room 800 has the number of group 'sales' "
            "(line 4; expected each number to mean one thing)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna}
            groups:
              sales: {number: "800", members: ["101"]}
            conferences:
              "800": {name: Briefing}
            """
        )

    def test_a_code_listed_twice(self):
        """
        The same pickup code twice.
        """
        assert ["t.yaml:2:19: *11 is listed twice (first at line 2; expected each number once)"] == issues(
            """\
            feature_codes:
              pickup: ["*11", "*11"]
            """
        )

    def test_an_extension_that_is_an_emergency_number(self):
        """
        In Russia 101-104 are emergency numbers: listing them and having extension 101 is an error.
        """
        assert [
            "t.yaml:2:3: extension 101 is also emergency number 101 (line 3): dialling 101 must reach the "
            "emergency service (expected a number not listed in emergency)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna}
            emergency: ["112", "101"]
            """
        )

    def test_an_extension_beginning_with_a_pickup_code(self):
        """
        Extension 401 with the default pickup code 40: the phone stops at 40.
        """
        assert [
            "t.yaml:2:3: extension 401 begins with pickup code 40 (a default): a phone that dials as soon as "
            "the digits make a known number stops at 40 (expected numbers where none is the beginning of "
            "another)"
        ] == issues(
            """\
            extensions:
              "401": {name: Anna}
            """
        )

    def test_a_pickup_code_beginning_with_an_extension(self):
        """
        The other way round: pickup code 1011 begins with extension 101, reported at the code.
        """
        assert [
            "t.yaml:4:12: pickup code 1011 begins with extension 101 (line 2): a phone that dials as soon as "
            "the digits make a known number stops at 101 (expected numbers where none is the beginning of "
            "another)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna}
            feature_codes:
              pickup: ["1011"]
            """
        )

    def test_an_extension_beginning_with_a_supervisor_prefix(self):
        """
        Extension 5551 with listen prefix 555: the phone stops at 5551, so 5551xx never listens to 1xx.
        """
        assert [
            "t.yaml:2:3: extension 5551 begins with listen prefix 555 (a default): a phone that dials "
            "as soon as the digits make a known number stops at 5551, so listening in on an extension "
            "starting with 1 cannot be dialled (expected an extension that does not begin with 555)"
        ] == issues(
            """\
            extensions:
              "5551": {name: Anna}
            """
        )

    def test_prefixes_beginning_one_another(self):
        """
        Listen prefix 55 begins whisper prefix 556 and the default barge prefix 557.
        """
        assert [
            "t.yaml:2:3: listen prefix 55 is the beginning of barge prefix 557 (a default), so 557 followed "
            "by "
            "an extension is ambiguous (expected prefixes where none is the beginning of another)",
            "t.yaml:3:3: whisper prefix 556 begins with listen prefix 55 (line 2), so 556 followed by an "
            "extension is ambiguous (expected prefixes where none is the beginning of another)",
        ] == issues(
            """\
            feature_codes:
              listen: "55"
              whisper: "556"
            """
        )

    def test_an_extension_beginning_with_another_is_a_warning(self):
        """
        Extensions 10 and 101: phones that dial on a match stop at 10, but it is only suspicious.
        """
        assert [
            "t.yaml:3:3: warning: extension 101 begins with extension 10 (line 2): a phone that dials as "
            "soon as "
            "the digits make a known number stops at 10 (expected numbers where none is the beginning of "
            "another)"
        ] == issues(
            """\
            extensions:
              "10": {name: Anna}
              "101": {name: Ivan}
            """
        )

    def test_an_extension_that_an_announced_transfer_cannot_reach(self):
        """
        The issue's example: transfer prefix * and pickup *11 make *110# end at *11 during a call.
        """
        assert [
            "t.yaml:2:3: extension 110: during a call *110# (announced transfer) begins with pickup code *11 "
            "(a default), which acts as soon as it is dialled (expected numbers that do not start with 11, "
            "or another announced_transfer prefix)"
        ] == issues(
            """\
            extensions:
              "110": {name: Anna}
            """
        )

    def test_another_transfer_prefix_solves_it(self):
        """
        With prefix *2 (as the shipped plan has), *2110# does not begin with *11.
        """
        assert [] == issues(
            """\
            extensions:
              "110": {name: Anna}
            feature_codes:
              announced_transfer: {prefix: "*2"}
            """
        )


class TestGroups:
    def test_a_member_that_is_not_an_extension(self):
        """
        Member 999 does not exist.
        """
        assert ["t.yaml:4:28: member 999 is not an extension (expected one of: 101)"] == issues(
            """\
            extensions:
              "101": {name: Anna}
            groups:
              sales: {members: ["101", "999"], number: "200"}
            """
        )

    def test_a_member_listed_twice(self):
        """
        The same member twice.
        """
        assert ["t.yaml:4:28: member 101 is listed twice (expected each extension once)"] == issues(
            """\
            extensions:
              "101": {name: Anna}
            groups:
              sales: {members: ["101", "101"], number: "200"}
            """
        )

    def test_a_disabled_member_is_a_warning(self):
        """
        A disabled member never rings.
        """
        assert [
            "t.yaml:5:28: warning: member 102 is disabled and never rings (expected extensions in service)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna}
              "102": {name: Ivan, disabled: true}
            groups:
              sales: {members: ["101", "102"], number: "200"}
            """
        )

    def test_member_timeout_longer_than_timeout_is_a_warning(self):
        """
        In a sequential group each member rings member_timeout, the group timeout in all.
        """
        assert [
            "t.yaml:9:5: warning: member_timeout 40 s is longer than timeout 30 s, so only the first member "
            "rings (expected member_timeout at most timeout)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna}
              "102": {name: Ivan}
            groups:
              sales:
                members: ["101", "102"]
                number: "200"
                strategy: sequential
                member_timeout: 40s
                timeout: 30s
            """
        )

    def test_member_timeout_has_no_effect_on_ringall(self):
        """
        ringall rings everybody for the group timeout.
        """
        assert [
            "t.yaml:4:44: warning: member_timeout has no effect with strategy ringall "
            "(expected it only with sequential or hunt)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna}
            groups:
              sales: {members: ["101"], number: "200", member_timeout: 10}
            """
        )

    def test_a_sequential_group_of_one_is_a_warning(self):
        """
        Nothing to take turns with.
        """
        assert [
            "t.yaml:4:44: warning: strategy hunt with a single member just rings that phone "
            "(expected two or more members, or strategy ringall)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna}
            groups:
              sales: {members: ["101"], number: "200", strategy: hunt}
            """
        )

    def test_a_group_nothing_leads_to_is_a_warning(self):
        """
        No number, and no route, forward or overflow names it.
        """
        assert [
            "t.yaml:4:3: warning: group 'sales' has no number and no route, forward or overflow leads to it "
            "(expected number: or a target group:sales)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna}
            groups:
              sales: {members: ["101"]}
            """
        )


class TestTrunks:
    def test_a_did_on_two_trunks(self):
        """
        One number carried by two trunks.
        """
        assert [
            "t.yaml:5:42: +74951234567 is already carried by trunk 'main' at line 4 "
            "(expected each number on one trunk)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna}
            trunks:
              main: {host: a.example.net, numbers: ["+74951234567"]}
              spare: {host: b.example.net, numbers: ["+74951234567"]}
            inbound:
              - {number: "+74951234567", to: ext:101}
            outbound:
              - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
            """
        )

    def test_a_did_listed_twice_on_one_trunk_is_a_warning(self):
        """
        Harmless, but a copy-paste slip.
        """
        assert [
            "t.yaml:4:57: warning: +74951234567 is listed twice (first at line 4; expected each number once)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna}
            trunks:
              main: {host: a.example.net, numbers: ["+74951234567", "+74951234567"]}
            inbound:
              - {number: "+74951234567", to: ext:101}
            outbound:
              - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
            """
        )

    def test_an_unknown_trunk_and_failover(self):
        """
        An outbound route on a trunk that does not exist, failing over to another that does not.
        """
        assert [
            "t.yaml:8:39: trunk 'mian' is not defined (expected one of: main)",
            "t.yaml:8:52: failover trunk 'backup' is not defined (expected one of: main)",
        ] == issues(
            OUTSIDE
            + """\
extensions:
  "101": {name: Anna}
outbound:
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: mian, failover: backup}
"""
        )

    def test_failover_to_the_same_trunk_is_a_warning(self):
        """
        It adds nothing.
        """
        assert [
            "t.yaml:8:52: warning: failover 'main' is the route's own trunk, so it adds nothing "
            "(expected another trunk)"
        ] == issues(
            OUTSIDE
            + """\
extensions:
  "101": {name: Anna}
outbound:
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main, failover: main}
"""
        )

    def test_a_route_number_no_trunk_carries_is_a_warning(self):
        """
        An inbound route for a DID that no trunk brings.
        """
        assert [
            "t.yaml:5:6: warning: no trunk carries +74951234568, so this route never gets a call "
            "(expected +74951234568 in a trunk's numbers)"
        ] == issues(
            OUTSIDE
            + """\
  - {number: "+74951234568", to: ext:101}
extensions:
  "101": {name: Anna}
outbound:
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
"""
        )

    def test_a_caller_id_not_of_the_trunk_is_a_warning(self):
        """
        The carrier may reject a caller ID that is not one of the trunk's numbers.
        """
        assert [
            "t.yaml:8:52: warning: caller_id +74951234569 is not a number of trunk 'main', the carrier may "
            "reject or replace it (expected one of: +74951234567)"
        ] == issues(
            OUTSIDE
            + """\
extensions:
  "101": {name: Anna}
outbound:
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main, caller_id: "+74951234569"}
"""
        )

    def test_an_unused_trunk_is_a_warning(self):
        """
        No numbers and no route: a leftover.
        """
        assert [
            "t.yaml:3:3: warning: trunk 'old' carries no numbers and no outbound route uses it "
            "(expected numbers: or a route with trunk: old)"
        ] == issues(
            OUTSIDE.replace("inbound:", "  old: {host: old.example.net}\ninbound:")
            + """\
extensions:
  "101": {name: Anna}
outbound:
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
"""
        )


class TestOutbound:
    def test_overlapping_routes_on_different_trunks(self):
        """
        Mobiles via another trunk after a route that takes every +7 number: the first route wins.
        """
        assert [
            "t.yaml:13:5: outbound route 'mobiles' overlaps outbound route 'national' at line 9, which uses "
            "trunk 'main' instead of 'gsm': +79161234567 matches both and the first route wins "
            "(expected patterns that do not overlap, or the same trunk)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna, mobile: "+79161234567"}
            trunks:
              main: {host: a.example.net, numbers: ["+74951234567"]}
              gsm: {host: gsm.example.net}
            inbound:
              - {number: "+74951234567", to: ext:101}
            outbound:
              - name: national
                match: ['^\\+7\\d{10}$', '^112$']
                trunk: main
              - name: mobiles
                match: ['^\\+79\\d{9}$']
                trunk: gsm
            """
        )

    def test_overlap_on_one_trunk_is_fine(self):
        """
        +7 numbers on the national route first, the rest international: same trunk, nothing to say.
        """
        assert [] == issues(
            OUTSIDE
            + """\
extensions:
  "101": {name: Anna, outbound: [national, international]}
outbound:
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
  - {match: ['^\\+\\d{7,15}$'], trunk: main, permission: international}
"""
        )

    def test_a_shadowed_route_is_a_warning(self):
        """
        A route below one that takes all its numbers is never used.
        """
        assert [
            "t.yaml:9:20: warning: outbound route 'moscow' is never used: every number it matches goes to "
            "outbound route 'all' at line 8 first (expected it above those routes, or removed)"
        ] == issues(
            OUTSIDE
            + """\
extensions:
  "101": {name: Anna}
outbound:
  - {name: all, match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
  - {name: moscow, match: ['^\\+7495\\d{7}$'], trunk: main}
"""
        )

    def test_a_route_for_callers_without_the_earlier_permission_is_not_shadowed(self):
        """
        The first route the caller may use wins: phones without 'international' take the second route.
        """
        assert [] == issues(
            OUTSIDE
            + """\
extensions:
  "101": {name: Anna, outbound: [international]}
  "102": {name: Ivan}
outbound:
  - {match: ['^\\+\\d{7,15}$'], trunk: main, permission: international}
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
"""
        )

    def test_a_permission_nobody_holds_is_a_warning(self):
        """
        No extension holds 'international'.
        """
        assert [
            "t.yaml:9:44: warning: no extension holds permission 'international', so nobody can use this "
            "route "
            "(expected 'international' in some extension's outbound:)"
        ] == issues(
            OUTSIDE
            + """\
extensions:
  "101": {name: Anna}
outbound:
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
  - {match: ['^\\+\\d{7,15}$'], trunk: main, permission: international}
"""
        )

    def test_a_class_no_route_needs_is_a_warning(self):
        """
        'intl' is probably a typo of 'international'.
        """
        assert [
            "t.yaml:6:44: warning: extension 101 holds outbound class 'intl', which no route needs "
            "(a typo? expected one of: national, supervisor)"
        ] == issues(
            OUTSIDE
            + """\
extensions:
  "101": {name: Anna, outbound: [national, intl]}
outbound:
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
"""
        )

    def test_the_supervisor_class_is_what_the_listen_codes_need(self):
        """
        'supervisor' lets a phone use 555/556/557: no route needs it, and that is no typo.
        """
        assert [] == issues(
            OUTSIDE
            + """\
extensions:
  "101": {name: Anna, outbound: [national, supervisor]}
outbound:
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
"""
        )

    def test_strip_longer_than_the_number_is_a_warning(self):
        """
        strip 11 of an 11-digit number leaves nothing.
        """
        assert [
            "t.yaml:9:41: warning: strip 11 removes the whole of the shortest number this route matches "
            "(11 characters; expected strip below 11)"
        ] == issues(
            OUTSIDE
            + """\
extensions:
  "101": {name: Anna}
outbound:
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
  - {match: ['^8\\d{10}$'], trunk: main, strip: 11}
"""
        )

    def test_a_rewrite_that_breaks_numbers_is_a_warning(self):
        """
        One strip for two dialling forms: 8... becomes +7..., but +7... becomes +77....
        """
        assert [
            "t.yaml:8:66: warning: strip 1 and prefix '+7' turn +70000000000 into +770000000000, which is "
            "not a "
            "possible phone number (expected a rewrite to E.164, e.g. one route per way of dialling)"
        ] == issues(
            OUTSIDE
            + """\
extensions:
  "101": {name: Anna}
outbound:
  - {match: ['^(\\+7|8)\\d{10}$', '^112$'], trunk: main, strip: 1, prefix: "+7"}
"""
        )

    def test_an_emergency_number_without_a_route_is_a_warning(self):
        """
        The router still sends 112 out (unchanged, every trunk in turn), but a route should say how.
        """
        assert [
            "t.yaml:9:13: warning: emergency number 112 matches no outbound route, so it goes out unchanged "
            "on every trunk in turn (expected a route for it, e.g. match: '^112$')"
        ] == issues(
            OUTSIDE
            + """\
extensions:
  "101": {name: Anna}
outbound:
  - {match: ['^\\+7\\d{10}$'], trunk: main}
emergency: ["112"]
"""
        )

    def test_without_outbound_routes_the_warning_is_at_the_trunks(self):
        """
        Neither emergency nor outbound in the file: the warning points at trunks.
        """
        assert [
            "t.yaml:1:1: warning: emergency number 112 matches no outbound route, so it goes out unchanged "
            "on every trunk in turn (expected a route for it, e.g. match: '^112$')"
        ] == issues(OUTSIDE + 'extensions:\n  "101": {name: Anna}\n')

    def test_an_internal_number_an_outbound_pattern_matches_is_a_warning(self):
        """
        Extension 8123 also matches ^8\\d+$: the internal number wins.
        """
        assert [
            "t.yaml:7:3: warning: extension 8123 also matches outbound route #2 (line 10); the internal "
            "number "
            "wins (expected patterns that no internal number matches)"
        ] == issues(
            OUTSIDE
            + """\
extensions:
  "101": {name: Anna}
  "8123": {name: Ivan}
outbound:
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
  - {match: ['^8\\d+$'], trunk: main}
"""
        )


class TestPhoneNumbers:
    def test_a_mobile_that_is_not_a_valid_number(self):
        """
        +7 000... has the right shape but is no number in service.
        """
        assert [
            "t.yaml:2:23: mobile +70001234567 is not a valid phone number (expected a number in service: "
            "country code, then area or mobile code, e.g. +74951234567)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna, mobile: "+70001234567"}
            """
        )

    def test_a_did_that_is_not_a_valid_number(self):
        """
        The same check for the numbers a trunk carries.
        """
        assert [
            "t.yaml:2:41: +74951234 is not a valid phone number (expected a number in service: "
            "country code, then area or mobile code, e.g. +74951234567)"
        ] == issues(
            """\
            trunks:
              main: {host: a.example.net, numbers: ["+74951234"]}
            inbound:
              - {number: any, to: hangup}
            outbound:
              - {match: ['^112$'], trunk: main}
            extensions:
              "101": {name: Anna}
            """
        )

    def test_a_number_target_that_is_not_a_valid_number(self):
        """
        And for number: targets.
        """
        assert [
            "t.yaml:2:33: +70001234567 is not a valid phone number (expected a number in service: "
            "country code, then area or mobile code, e.g. +74951234567)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna, forward: {busy: number:+70001234567}}
            """
        )

    def test_a_fixed_line_as_mobile_is_a_warning(self):
        """
        Forwards to it still work.
        """
        assert [
            "t.yaml:2:23: warning: mobile +74951234567 is a fixed-line number, not a mobile "
            "(forwards still work; expected e.g. +79161234567)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna, mobile: "+74951234567"}
            """
        )

    def test_an_unknown_region(self):
        """
        default_region must be a country phonenumbers knows.
        """
        assert ["t.yaml:1:1: 'ZZ' is not a region (expected a two-letter country code, e.g. RU)"] == issues(
            "default_region: ZZ\n"
        )


class TestSchedules:
    SCHEDULED = """\
extensions:
  "101": {name: Anna}
trunks:
  main: {host: sip.example.net, numbers: ["+74951234567"]}
outbound:
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
inbound:
  - {number: "+74951234567", to: ext:101, schedule: open, otherwise: hangup}
"""

    def test_a_schedule_that_is_not_defined(self):
        """
        The route names a schedule nobody wrote.
        """
        assert [
            "t.yaml:8:43: schedule 'open' is not defined (expected one under schedules:, and there is none "
            "yet)"
        ] == issues(self.SCHEDULED)

    def test_a_schedule_never_open(self):
        """
        No day has hours.
        """
        assert [
            "t.yaml:10:3: schedule 'open' is never open: no day has hours "
            '(expected e.g. hours: {mon-fri: "09:00-18:00"})'
        ] == issues(self.SCHEDULED + "schedules:\n  open: {hours: {sat: closed}}\n")

    def test_overlapping_ranges(self):
        """
        09:00-13:00 and 12:00-18:00 share an hour, on every day of the key.
        """
        assert [
            "t.yaml:10:18: 09:00-13:00 and 12:00-18:00 overlap on mon, tue, wed, thu, fri "
            "(expected ranges that do not overlap, e.g. 09:00-13:00, 14:00-18:00)"
        ] == issues(self.SCHEDULED + 'schedules:\n  open: {hours: {mon-fri: "09:00-13:00, 12:00-18:00"}}\n')

    def test_a_holiday_list_that_is_not_defined(self):
        """
        holidays: names a list that is not under holidays.
        """
        assert [
            "t.yaml:10:43: holiday list 'ru_2026' is not defined "
            "(expected a list under holidays:, and there is none yet)"
        ] == issues(
            self.SCHEDULED + 'schedules:\n  open: {hours: {mon-fri: "09:00-18:00"}, holidays: ru_2026}\n'
        )

    def test_a_schedule_without_otherwise(self):
        """
        Where do calls go when it is closed?
        """
        text = self.SCHEDULED.replace(", otherwise: hangup", "") + (
            'schedules:\n  open: {hours: {mon-fri: "09:00-18:00"}}\n'
        )

        assert [
            "t.yaml:8:43: schedule 'open' but no otherwise: where do calls go when it is closed? "
            "(expected otherwise: a target, e.g. ext:110 or hangup)"
        ] == issues(text)

    def test_otherwise_without_schedule_is_a_warning(self):
        """
        Nothing ever closes, so otherwise is never used.
        """
        text = self.SCHEDULED.replace("schedule: open, ", "")

        assert [
            "t.yaml:8:43: warning: otherwise is never used: the route has no schedule "
            "(expected schedule: NAME, or no otherwise)"
        ] == issues(text)

    def test_unused_schedules_and_holiday_lists_are_warnings(self):
        """
        Defined, never referred to.
        """
        text = self.SCHEDULED + (
            'schedules:\n  open: {hours: {mon-fri: "09:00-18:00"}}\n'
            '  night: {hours: {mon-fri: "18:00-24:00"}}\nholidays:\n  ru_2026: [2026-01-01]\n'
        )

        assert [
            "t.yaml:11:3: warning: schedule 'night' is not used by any inbound route "
            "(expected schedule: night on a route, or remove it)",
            "t.yaml:13:3: warning: holiday list 'ru_2026' is not used by any schedule "
            "(expected holidays: ru_2026 in a schedule, or remove it)",
        ] == issues(text)


class TestLoops:
    def test_two_extensions_forwarding_to_each_other(self):
        """
        101 unanswered goes to 102, 102 busy goes back to 101.
        """
        assert [
            "t.yaml:2:45: calls can loop: ext:101 -> ext:102 -> ext:101 (expected forwards and overflows "
            "that end "
            "at a phone, a mobile, an outside number or hangup)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna, forward: {no_answer: {to: ext:102}}}
              "102": {name: Ivan, forward: {busy: ext:101}}
            """
        )

    def test_two_groups_overflowing_into_each_other(self):
        """
        Group a overflows to b, b to a.
        """
        assert [
            "t.yaml:4:40: calls can loop: group:a -> group:b -> group:a (expected forwards and overflows "
            "that end "
            "at a phone, a mobile, an outside number or hangup)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna}
            groups:
              a: {members: ["101"], number: "200", overflow: group:b}
              b: {members: ["101"], number: "300", overflow: group:a}
            """
        )

    def test_a_loop_through_our_own_number(self):
        """
        Forwarding to our own DID comes back in through its route; the cycle starts where the file does.
        """
        assert [
            "t.yaml:4:30: calls can loop: number:+74951234567 -> ext:101 -> number:+74951234567 (expected "
            "forwards and "
            "overflows that end at a phone, a mobile, an outside number or hangup)"
        ] == issues(
            OUTSIDE
            + """\
extensions:
  "101": {name: Anna, forward: {always: number:+74951234567}}
outbound:
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
"""
        )


class TestInbound:
    def test_two_routes_for_one_number(self):
        """
        The first route takes every call to the number (open or closed), so the second is never used.
        """
        assert [
            "t.yaml:5:6: a second route for +74951234567: the route at line 4 already takes every call to it "
            "(expected one route per number; a schedule chooses between to and otherwise)"
        ] == issues(
            OUTSIDE
            + """\
  - {number: "+74951234567", to: ext:101}
extensions:
  "101": {name: Anna}
outbound:
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
"""
        )

    def test_two_any_routes(self):
        """
        Only the first 'any' route is ever used.
        """
        assert [
            "t.yaml:6:6: a second 'any' route: the route at line 5 already takes every call no other route "
            "takes (expected one any route)"
        ] == issues(
            OUTSIDE
            + """\
  - {number: any, to: ext:101}
  - {number: any, to: hangup}
extensions:
  "101": {name: Anna}
outbound:
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
"""
        )

    def test_a_did_without_route_is_a_warning(self):
        """
        A number the trunk carries but no route (and no 'any') takes.
        """
        assert [
            "t.yaml:2:59: warning: no inbound route for +74951234568 and no 'any' route, so its calls are "
            'refused (expected a route with number: "+74951234568" or number: any)'
        ] == issues(
            OUTSIDE.replace('["+74951234567"]', '["+74951234567", "+74951234568"]')
            + """\
extensions:
  "101": {name: Anna}
outbound:
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
"""
        )

    def test_fallback_equal_to_to_is_a_warning(self):
        """
        Falling back to the target that just did not answer.
        """
        assert [
            "t.yaml:4:43: warning: fallback is the same as to (ext:101), so it adds nothing "
            "(expected another target)"
        ] == issues(
            OUTSIDE.replace("to: ext:101}", "to: ext:101, fallback: ext:101}")
            + """\
extensions:
  "101": {name: Anna}
outbound:
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
"""
        )

    def test_responsible_timeout_alone_is_a_warning(self):
        """
        Without responsible_first nobody rings first.
        """
        assert [
            "t.yaml:4:43: warning: responsible_timeout has no effect without responsible_first: true "
            "(expected both, or neither)"
        ] == issues(
            OUTSIDE.replace("to: ext:101}", "to: ext:101, responsible_timeout: 10s}")
            + """\
extensions:
  "101": {name: Anna}
outbound:
  - {match: ['^\\+7\\d{10}$', '^112$'], trunk: main}
"""
        )


class TestExtensions:
    def test_one_login_at_two_extensions_is_a_warning(self):
        """
        The same CRM user at two phones.
        """
        assert [
            "t.yaml:3:23: warning: user 'anna' is also at extension 101 (line 2; expected one extension per "
            "login)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna, user: anna}
              "102": {name: Anna, user: anna}
            """
        )

    def test_forwards_after_always_are_a_warning(self):
        """
        forward.always sends every call away, so busy is never consulted.
        """
        assert [
            "t.yaml:3:50: warning: forward.busy is never used: forward.always sends every call away first "
            "(expected always alone, or no always)"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna}
              "102": {name: Ivan, forward: {always: ext:101, busy: ext:101}}
            """
        )
