"""Loading a dialplan: the file, YAML syntax, the schema, and the shipped sample."""

from __future__ import annotations

from io import StringIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from config.dialplan import DialplanError, Issue, Positions, check, load_dialplan, parse_dialplan
from config.dialplan_spec import DialplanSpec
from tests.conftest import ROOT

from .helpers import issues

SAMPLE = ROOT / "config" / "dialplan.yaml"


class TestIssue:
    def test_an_error_prints_file_line_column_message(self):
        """
        An error reads FILE:LINE:COLUMN: message.
        """
        issue = Issue("config/dialplan.yaml", 7, 5, "ext:105 is not an extension")

        assert "config/dialplan.yaml:7:5: ext:105 is not an extension" == str(issue)

    def test_a_warning_says_so(self):
        """
        A warning reads FILE:LINE:COLUMN: warning: message.
        """
        issue = Issue("d.yaml", 3, 1, "schedule 'x' is not used", "warning")

        assert "d.yaml:3:1: warning: schedule 'x' is not used" == str(issue)

    def test_a_problem_with_the_file_itself_has_no_position(self):
        """
        Line 0 means the file as a whole: FILE: message.
        """
        assert "d.yaml: no such file" == str(Issue("d.yaml", 0, 0, "no such file"))


class TestDialplanError:
    def test_errors_come_first_then_by_position(self):
        """
        The issues are sorted errors first, each kind in file order; str() prints one per line.
        """
        warning = Issue("d.yaml", 1, 1, "w", "warning")
        late, early = Issue("d.yaml", 9, 1, "late"), Issue("d.yaml", 2, 3, "early")

        error = DialplanError([warning, late, early])

        assert [early, late, warning] == error.issues
        assert "d.yaml:2:3: early\nd.yaml:9:1: late\nd.yaml:1:1: warning: w" == str(error)
        assert [early, late] == error.errors
        assert [warning] == error.warnings


class TestLoadDialplan:
    def test_a_missing_file_is_an_error_naming_it(self, tmp_path):
        """
        No file: one issue naming the path, without a position.
        """
        path = tmp_path / "nope.yaml"

        with pytest.raises(DialplanError) as info:
            load_dialplan(path)

        assert f"{path}: no such file (expected a dialplan in YAML)" == str(info.value)

    def test_a_file_not_in_utf8_is_an_error(self, tmp_path):
        """
        Bytes that are not UTF-8 are reported at the first bad one.
        """
        path = tmp_path / "d.yaml"
        path.write_bytes("extensions:\n  '101': {name: Анна}\n".encode("cp1251"))

        with pytest.raises(DialplanError) as info:
            load_dialplan(path)

        assert f"{path}:2:17: byte 0xc0 is not UTF-8 (expected the file saved as UTF-8)" == str(info.value)

    def test_messages_name_the_file_read(self, tmp_path):
        """
        Issues carry the path as given to load_dialplan.
        """
        path = tmp_path / "d.yaml"
        path.write_text('extensions:\n  "101": {name: Anna, dnd: maybe}\n', encoding="utf-8")

        with pytest.raises(DialplanError) as info:
            load_dialplan(path)

        assert f"{path}:2:23: 'maybe' is not true or false (expected true or false)" == str(info.value)


class TestShippedSample:
    def test_the_sample_has_no_errors_and_no_warnings(self):
        """
        config/dialplan.yaml (what make run starts with) passes check without a single warning.
        """
        spec, warnings = load_dialplan(SAMPLE)

        assert [] == warnings
        assert [f"{number}" for number in range(101, 111)] == list(spec.extensions)

    def test_the_sample_is_a_sales_office_in_moscow(self):
        """
        Two DIDs on one registered trunk, sales ringall with pickup, support sequential, room 800.
        """
        spec, _warnings = load_dialplan(SAMPLE)

        assert ("+74951234567", "+74951234568") == spec.trunks["main"].numbers
        assert spec.trunks["main"].registers
        assert "ringall" == spec.groups["sales"].strategy
        assert spec.groups["sales"].pickup
        assert "sequential" == spec.groups["support"].strategy
        assert "800" in spec.conferences
        assert ("112",) == spec.emergency
        assert "Europe/Moscow" == spec.timezone

    def test_the_readme_walkthroughs_still_pass(self):
        """
        Adding an employee and a DID exactly as the README says leaves the plan clean.
        """
        text = SAMPLE.read_text(encoding="utf-8")
        text = text.replace(
            "    user: volkova\n",
            '    user: volkova\n  "111":\n    name: Pavel Orlov\n    user: orlov\n'
            '    secret: a-long-sip-password\n    mobile: "+79161234511"\n'
            "    forward:\n      no_answer: {to: mobile, after: 20s}\n",
        )
        text = text.replace('"105", "106"]', '"105", "106", "111"]')
        text = text.replace('"+74951234568"]', '"+74951234568", "+74951234569"]')
        text = text.replace(
            "  - number: any\n",
            '  - number: "+74951234569"\n    schedule: business_hours\n    to: group:support\n'
            "    fallback: ext:110\n    otherwise: hangup\n  - number: any\n",
        )

        spec, warnings = parse_dialplan(text)

        assert [] == warnings
        assert "111" in spec.groups["sales"].members
        assert "group:support" == str(spec.inbound[2].to)


class TestYamlSyntax:
    def test_broken_yaml_is_reported_where_the_parser_stopped(self):
        """
        A syntax error names the place and what YAML expected.
        """
        assert [
            "t.yaml:2:1: not valid YAML: expected ',' or ']', but got '<stream end>' "
            "(expected well-formed YAML: check the indentation and the quotes here)"
        ] == issues("emergency: [112\n")

    def test_an_unquoted_star_code_says_to_quote_it(self):
        """
        *11 unquoted is a YAML alias: the message says to quote it.
        """
        assert [
            "t.yaml:2:12: not valid YAML: found undefined alias '11' "
            '(expected a value that starts with * in quotes, e.g. "*11")'
        ] == issues(
            """\
            feature_codes:
              pickup: [*11, "40"]
            """
        )

    def test_a_regex_in_double_quotes_says_to_use_single_quotes(self):
        """
        "\\d" is a YAML escape error; single quotes are the fix.
        """
        assert [
            "t.yaml:1:24: not valid YAML: found unknown escape character 'd' "
            r"(expected single quotes around text with a backslash, e.g. '^8\d{10}$')"
        ] == issues('outbound: [{match: "^8\\d{10}$", trunk: main}]\n')

    def test_duplicate_keys_are_each_reported_at_the_second_one(self):
        """
        A key given twice is an error at the repeat, naming the first line; 101 and "101" are one key.
        """
        assert [
            "t.yaml:3:3: duplicate key '101' (first at line 2; expected each key once)",
            "t.yaml:6:3: duplicate key 'sales' (first at line 5; expected each key once)",
        ] == issues(
            """\
            extensions:
              101: {name: Anna}
              "101": {name: Ivan}
            groups:
              sales: {members: ["101"]}
              sales: {members: ["101"]}
            """
        )

    def test_an_impossible_date_is_reported_at_it(self):
        """
        2026-13-01 unquoted is a YAML timestamp that cannot be built: reported at its place.
        """
        assert ["t.yaml:2:13: '2026-13-01' is not a date (expected YYYY-MM-DD, e.g. 2026-01-01)"] == issues(
            """\
            holidays:
              ru_2026: [2026-13-01]
            """
        )

    def test_the_plan_must_be_a_mapping(self):
        """
        A list at the top is refused at 1:1.
        """
        assert [
            "t.yaml:1:1: the dialplan is a list, not a mapping (expected sections: extensions:, groups:, "
            "trunks:...)"
        ] == issues("- 101\n- 102\n")

    def test_an_empty_file_is_an_empty_plan(self):
        """
        Nothing (or only comments) is a plan without phones and routes, and nothing to warn about.
        """
        spec, warnings = parse_dialplan("# nothing yet\n")

        assert DialplanSpec() == spec
        assert [] == warnings


class TestSchemaErrors:
    def test_an_unknown_key_lists_the_allowed_ones(self):
        """
        A typo is an unknown key listing the allowed ones; the 'missing name' it causes is not repeated.
        """
        assert [
            "t.yaml:2:11: unknown key 'nmae' (a typo? expected one of: name, user, secret, mobile, forward, "
            "dnd, recording, outbound, disabled)"
        ] == issues(
            """\
            extensions:
              "101": {nmae: Anna}
            """
        )

    def test_an_unknown_top_level_section(self):
        """
        A misspelt section lists the sections.
        """
        assert [
            "t.yaml:1:1: unknown key 'extentions' (a typo? expected one of: timezone, default_region, "
            "extensions, groups, feature_codes, conferences, trunks, inbound, outbound, emergency, "
            "schedules, "
            "holidays, recording)"
        ] == issues('extentions: {"101": {name: Anna}}\n')

    def test_unknown_trunk_keys_list_register_as_written(self):
        """
        The trunk's register key is listed as the file writes it, not as the field is named.
        """
        assert [
            "t.yaml:2:33: unknown key 'registration' (a typo? expected one of: host, port, transport, "
            "username, secret, register, numbers, caller_id, allow_from)"
        ] == issues(
            """\
            trunks:
              main: {host: sip.example.net, registration: true}
            """
        )

    def test_wrong_types_name_the_value_and_what_was_expected(self):
        """
        A word for a port, a non-boolean, a value outside a choice: each at its key.
        """
        assert [
            "t.yaml:2:33: 'abc' is not a whole number (expected e.g. port: 5060)",
            "t.yaml:2:44: 'sctp' is not one of the choices (expected 'udp', 'tcp' or 'tls')",
            "t.yaml:4:23: 'maybe' is not true or false (expected true or false)",
            "t.yaml:6:29: 'ringal' is not one of the choices (expected 'ringall', 'sequential' or 'hunt')",
        ] == issues(
            """\
            trunks:
              main: {host: sip.example.net, port: abc, transport: sctp}
            extensions:
              "101": {name: Anna, dnd: maybe}
            groups:
              sales: {members: ["101"], strategy: ringal}
            """
        )

    def test_a_bad_key_of_a_mapping_is_reported_at_the_key(self):
        """
        An extension numbered 1a: the key is wrong, and the message says so at the key.
        """
        assert ["t.yaml:2:3: '1a' is not a number to dial (expected digits, * and #, at most 15)"] == issues(
            """\
            extensions:
              1a: {name: Anna}
            """
        )

    def test_a_missing_required_key_is_reported_at_its_parent(self):
        """
        An inbound route without `to` is reported at the route.
        """
        assert ["t.yaml:2:5: missing key 'to' (expected e.g. to: group:sales)"] == issues(
            """\
            inbound:
              - number: any
            """
        )

    def test_an_empty_extension(self):
        """
        An extension key with nothing under it.
        """
        assert ["t.yaml:2:3: an extension with nothing in it (expected e.g. {name: Ivan Petrov})"] == issues(
            """\
            extensions:
              "101":
            """
        )

    def test_a_short_secret_is_reported_without_its_value(self):
        """
        Secrets are never echoed: the message says 'the secret'.
        """
        assert ["t.yaml:2:23: the secret is too short (expected at least 8 characters)"] == issues(
            """\
            extensions:
              "101": {name: Anna, secret: abc}
            """
        )

    def test_an_unquoted_phone_number_says_to_quote_it(self):
        """
        +79161234567 unquoted is the integer 79161234567 to YAML: the message shows the quoted form.
        """
        assert [
            "t.yaml:2:23: 79161234567 was read as a number (expected a phone number in quotes, e.g. "
            '"+79161234567")'
        ] == issues(
            """\
            extensions:
              "101": {name: Anna, mobile: +79161234567}
            """
        )

    def test_a_list_expected(self):
        """
        outbound: international instead of a list of classes.
        """
        assert [
            "t.yaml:2:23: 'international' is not a list (expected e.g. outbound: [national, international])"
        ] == issues(
            """\
            extensions:
              "101": {name: Anna, outbound: international}
            """
        )

    def test_a_value_fitting_no_branch_of_a_union_gets_one_message(self):
        """
        holidays is a list of dates or a list's name: 5 is neither, one message says both.
        """
        assert [
            "t.yaml:3:5: 5 is not allowed here (expected [2026-01-01] or the name of a list under holidays:)"
        ] == issues(
            """\
            schedules:
              open:
                holidays: 5
                hours: {mon-fri: "09:00-18:00"}
            """
        )

    def test_a_union_error_inside_one_branch_points_at_the_item(self):
        """
        A list with one bad date: the list branch was meant, so the bad item is reported.
        """
        assert ["t.yaml:3:28: 'soon' is not a date (expected YYYY-MM-DD, e.g. 2026-01-01)"] == issues(
            """\
            schedules:
              open:
                holidays: [2026-01-01, soon]
                hours: {mon-fri: "09:00-18:00"}
            """
        )

    def test_bad_hours_are_reported_at_the_day_key(self):
        """
        A bad time, and a day given in two keys: each at the key of hours it is in.
        """
        assert [
            "t.yaml:4:7: '9:00' is not a time (expected HH:MM, 00:00 to 24:00)",
            "t.yaml:9:7: wed is given twice, in 'mon-fri' and 'wed' (expected each day once)",
        ] == issues(
            """\
            schedules:
              day:
                hours:
                  mon-fri: "9:00-18:00"
              night:
                hours:
                  mon-fri: "09:00-18:00"
                  sat: closed
                  wed: "18:00-20:00"
            """
        )

    def test_an_empty_member_list(self):
        """
        A group must have a member.
        """
        assert ["t.yaml:2:11: the list is empty (expected at least one extension)"] == issues(
            """\
            groups:
              sales: {members: []}
            """
        )

    def test_registration_needs_credentials(self):
        """
        register: true without username and secret, at the trunk.
        """
        assert [
            "t.yaml:2:3: register: true needs username and secret (expected both, or register: false)"
        ] == issues(
            """\
            trunks:
              main: {host: sip.example.net, register: true}
            """
        )

    def test_a_bad_regular_expression(self):
        """
        A pattern that does not compile, and one that is not text.
        """
        assert [
            "t.yaml:2:6: '(' is not a regular expression: missing ), unterminated subpattern at position 0 "
            r"(expected e.g. '^8\d{10}$')",
            "t.yaml:3:6: 8 is not a regular expression (expected text in quotes)",
        ] == issues(
            """\
            outbound:
              - {match: '(', trunk: main}
              - {match: [8], trunk: main}
            """
        )

    def test_a_bad_pin(self):
        """
        A pin that is not 3 to 10 digits, without echoing it.
        """
        assert ["t.yaml:2:24: the pin is not valid here (expected 3 to 10 digits)"] == issues(
            """\
            conferences:
              "800": {name: Daily, pin: "12"}
            """
        )


class TestCheck:
    def test_check_works_on_a_spec_without_a_file(self):
        """
        check() on a spec built in code places issues at 1:1 of '<dialplan>'.
        """
        spec = DialplanSpec.model_validate(
            {"extensions": {"101": {"name": "A", "forward": {"busy": "ext:9"}}}}
        )

        assert [
            Issue("<dialplan>", 1, 1, "ext:9 is not an extension or a group number (expected one of: 101)")
        ] == check(spec)

    def test_positions_find_keys_written_as_integers(self):
        """
        101: unquoted is the key 101 to YAML, found by its text.
        """
        data = YAML(typ="rt").load("extensions:\n  101: {name: A}\n")

        assert (2, 3, True) == Positions("d.yaml", data).find(("extensions", "101"))


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 100_000),
    st.sampled_from(
        ["101", "ext:101", "group:g", "mobile", "+74951234567", "09:00-18:00", "mon-fri", "x", ""]
    ),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["101", "name", "members", "to", "number", "hours", "match"]), inner, max_size=3
        )
    ),
    max_leaves=8,
)
_KEYS = st.sampled_from(list(DialplanSpec.model_fields))


class TestNeverCrashes:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(plan=st.dictionaries(_KEYS, _VALUES, max_size=4))
    def test_any_plan_is_either_accepted_or_reported(self, plan):
        """
        Whatever the sections hold, parse_dialplan returns or raises DialplanError with placed issues.
        """
        stream = StringIO()
        YAML(typ="safe").dump(plan, stream)

        try:
            _spec, problems = parse_dialplan(stream.getvalue(), path="t.yaml")
            raised_without_an_error = False
        except DialplanError as exc:
            problems, raised_without_an_error = exc.issues, not exc.errors

        assert not raised_without_an_error
        assert all(issue.line >= 1 and issue.column >= 1 for issue in problems)
