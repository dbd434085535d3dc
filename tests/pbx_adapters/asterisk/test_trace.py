"""Trace files and the AMI wire format: reading, writing, encoding, parsing, the trace clock."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pbx_adapters.asterisk.trace import (
    MessageSplitter,
    TraceError,
    TraceLine,
    TraceWriter,
    base_epoch,
    encode_message,
    parse_message,
    read_trace,
)

TRACES = Path(__file__).resolve().parents[2] / "fixtures" / "ami-traces"
ALL_TRACES = sorted(TRACES.glob("*.jsonl"))


def all_messages() -> list[dict[str, str | list[str]]]:
    return [line.fields for path in ALL_TRACES for line in read_trace(path)]


class TestReadTrace:
    @pytest.mark.parametrize("path", ALL_TRACES, ids=lambda p: p.stem)
    def test_reads_every_shared_trace(self, path):
        """
        Every shared trace reads whole: one TraceLine per line, Login first and Goodbye last.
        """
        lines = read_trace(path)

        assert len(path.read_text(encoding="utf-8").splitlines()) == len(lines)
        assert (lines[0].dir, lines[0].name) == ("action", "Login")
        assert (lines[-1].dir, lines[-1].name) == ("response", "Goodbye")
        assert all(a.t <= b.t for a, b in itertools.pairwise(lines))

    def test_repeated_key_is_a_list(self, traces):
        """
        The Originate of trace 14 keeps both Variable headers, as a list.
        """
        lines = read_trace(traces / "14_click_to_call_originate.jsonl")
        originate = next(line for line in lines if line.name == "Originate")

        assert originate.fields["Variable"] == ["CRM_LEAD_ID=42", "CRM_USER=ivan"]
        assert originate.get("Variable") == "CRM_LEAD_ID=42"

    def test_originate_response_is_an_event(self, traces):
        """
        OriginateResponse is an event (its first key is Event) although it carries Response.
        """
        lines = read_trace(traces / "14_click_to_call_originate.jsonl")
        line = next(line for line in lines if line.get("Event") == "OriginateResponse")

        assert (line.dir, line.get("Response")) == ("event", "Success")

    def test_bad_json_names_file_and_line(self, tmp_path):
        """
        A line that is not JSON raises TraceError naming file:line.
        """
        path = tmp_path / "bad.jsonl"
        path.write_text('{"t": 0.1, "dir": "event", "fields": {"Event": "X"}}\n\n{"t": 0.2, "dir"\n')

        with pytest.raises(TraceError, match=r"bad\.jsonl:3: invalid JSON") as info:
            read_trace(path)

        assert info.value.line == 3

    def test_missing_keys_are_named(self, tmp_path):
        """
        A line without 'dir' and 'fields' says which keys are missing, and where.
        """
        path = tmp_path / "short.jsonl"
        path.write_text('{"t": 0.1}\n')

        with pytest.raises(TraceError, match=r"short\.jsonl:1: missing key\(s\): dir, fields"):
            read_trace(path)

    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            ('{"t": "soon", "dir": "event", "fields": {"Event": "X"}}', "'t' must be a number"),
            ('{"t": 1, "dir": "sideways", "fields": {"Event": "X"}}', "'dir' must be"),
            ('{"t": 1, "dir": "event", "fields": {"Event": 3}}', "field 'Event' must be a string"),
            ("[1, 2]", "expected a JSON object"),
        ],
    )
    def test_wrong_types_are_rejected(self, tmp_path, text, reason):
        """
        Wrong types for t, dir or a field value raise TraceError with the reason.
        """
        path = tmp_path / "wrong.jsonl"
        path.write_text(text + "\n")

        with pytest.raises(TraceError, match=reason):
            read_trace(path)


class TestTraceWriter:
    def test_writes_lines_in_the_shape_of_the_shared_traces(self, tmp_path, traces):
        """
        Re-writing trace 14 reproduces the shared file byte for byte.
        """
        source = traces / "14_click_to_call_originate.jsonl"
        out = tmp_path / "copy.jsonl"

        with TraceWriter(out) as writer:
            for line in read_trace(source):
                writer.write(line)

        assert source.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")
        assert writer.count == 122

    def test_cyrillic_is_written_as_is(self, tmp_path):
        """
        Caller names stay readable in the file (ensure_ascii=False) and read back equal.
        """
        out = tmp_path / "ru.jsonl"
        fields = {"Event": "Newchannel", "CallerIDName": "Иван Петров"}

        with TraceWriter(out) as writer:
            writer.add(1.5, "event", fields)

        assert "Иван Петров" in out.read_text(encoding="utf-8")
        assert [TraceLine(1.5, "event", fields)] == read_trace(out)

    def test_append_keeps_previous_lines(self, tmp_path):
        """
        append=True adds to the file; the default truncates it.
        """
        out = tmp_path / "a.jsonl"
        with TraceWriter(out) as writer:
            writer.add(0.0, "event", {"Event": "A"})
        with TraceWriter(out, append=True) as writer:
            writer.add(1.0, "event", {"Event": "B"})

        assert [line.name for line in read_trace(out)] == ["A", "B"]

        with TraceWriter(out) as writer:
            writer.add(2.0, "event", {"Event": "C"})

        assert [line.name for line in read_trace(out)] == ["C"]


class TestEncodeMessage:
    def test_wire_format(self):
        """
        One 'Key: value' CRLF line per header, a repeated key per list item, a blank line at the end.
        """
        data = encode_message({"Action": "Originate", "Variable": ["A=1", "B=2"], "AccountCode": ""})

        assert data == b"Action: Originate\r\nVariable: A=1\r\nVariable: B=2\r\nAccountCode: \r\n\r\n"

    def test_utf8(self):
        """
        Non-ASCII values are encoded as UTF-8.
        """
        assert "CallerIDName: Иван\r\n\r\n".encode() == encode_message({"CallerIDName": "Иван"})

    def test_line_break_in_a_value_is_refused(self):
        """
        A CR or LF inside a value would end the message early: ValueError.
        """
        with pytest.raises(ValueError, match="one AMI line"):
            encode_message({"Message": "two\r\nlines"})


class TestParseMessage:
    def test_every_shared_message_round_trips(self):
        """
        encode then split then parse gives back the fields of every message of every trace.
        """
        for fields in all_messages():
            [raw] = MessageSplitter().feed(encode_message(fields))

            assert fields == parse_message(raw)

    def test_empty_values_and_colons_in_values(self):
        """
        Empty values are kept (the last header too); a value may contain ':'.
        """
        fields = parse_message(b"Event: X\r\nAppData: a:b:c\r\nLanguage: en\r\nAccountCode: ")

        assert fields == {"Event": "X", "AppData": "a:b:c", "Language": "en", "AccountCode": ""}

    def test_invalid_utf8_is_replaced_not_dropped(self):
        """
        Undecodable bytes become U+FFFD; the rest of the value survives.
        """
        fields = parse_message(b"CallerIDName: \xd0\x98\xd0 x")

        assert fields["CallerIDName"] == "И\ufffd x"

    def test_line_without_colon(self):
        """
        A line without ':' is a key with an empty value (nothing is dropped).
        """
        assert parse_message("Response: Follows\r\n--END COMMAND--") == {
            "Response": "Follows",
            "--END COMMAND--": "",
        }


class TestMessageSplitter:
    def test_byte_by_byte(self):
        """
        Fed one byte at a time, two messages come out whole, Cyrillic intact.
        """
        data = encode_message({"Event": "A", "CallerIDName": "Мария"}) + encode_message({"Event": "B"})
        splitter = MessageSplitter()

        out = [message for byte in data for message in splitter.feed(bytes([byte]))]

        assert [parse_message(m) for m in out] == [{"Event": "A", "CallerIDName": "Мария"}, {"Event": "B"}]
        assert splitter.pending == b""

    def test_pending_tail(self):
        """
        An incomplete message waits in pending until its blank line arrives.
        """
        splitter = MessageSplitter()

        assert splitter.feed(b"Event: A\r\nX: 1\r\n") == []
        assert splitter.pending == b"Event: A\r\nX: 1\r\n"
        assert splitter.feed(b"\r\n") == [b"Event: A\r\nX: 1"]


class TestBaseEpoch:
    def test_from_event_tv(self, traces):
        """
        Trace 02: SuccessfulAuth's EventTV minus its t.
        """
        lines = read_trace(traces / "02_inbound_answered.jsonl")
        event_tv = datetime(2026, 11, 27, 3, 48, 8, 745000, tzinfo=UTC).timestamp()

        assert event_tv - 0.001319 == pytest.approx(base_epoch(lines))

    def test_from_uniqueid(self):
        """
        Without EventTV: the first Uniqueid's seconds minus that line's t.
        """
        lines = [
            TraceLine(0.5, "event", {"Event": "FullyBooted"}),
            TraceLine(2.0, "event", {"Event": "Newchannel", "Uniqueid": "1795751289.3"}),
        ]

        assert base_epoch(lines) == 1795751287.0

    def test_none_when_the_trace_never_tells(self):
        """
        No EventTV and no Uniqueid: None.
        """
        assert base_epoch([TraceLine(0.0, "event", {"Event": "FullyBooted"})]) is None

    def test_consistent_with_uniqueids(self):
        """
        For every shared trace, the EventTV epoch agrees with the Uniqueids' seconds (within 1 s).
        """
        for path in ALL_TRACES:
            lines = read_trace(path)
            epoch = base_epoch(lines)
            line = next((line for line in lines if line.get("Uniqueid")), None)
            if line is None or epoch is None:
                continue
            seconds = int(line.get("Uniqueid").partition(".")[0])

            assert seconds <= epoch + line.t < seconds + 1, path.name


def test_trace_line_json_matches_shared_format(traces):
    """
    TraceLine.to_json reproduces the first line of a shared trace exactly.
    """
    path = traces / "02_inbound_answered.jsonl"
    first = path.read_text(encoding="utf-8").splitlines()[0]

    assert first == read_trace(path)[0].to_json()
    assert json.loads(first)["fields"] == read_trace(path)[0].fields
