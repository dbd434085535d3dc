"""G.711, the RTP header helpers and RFC 4733 detection, without sockets."""

from __future__ import annotations

import struct

import pytest

from pbx_adapters.sip.media import Codec
from pbx_adapters.sip.media.dtmf import DtmfDetector
from pbx_adapters.sip.media.g711 import decode, encode, transcode_table
from pbx_adapters.sip.media.rtp import build, header_length, payload_end, with_payload_type

from .audio import sine


class TestG711:
    def test_payload_types_are_the_static_ones(self):
        """PCMU is RTP payload type 0 and PCMA is 8 (RFC 3551)."""
        assert (0, 8) == (Codec.PCMU.payload_type, Codec.PCMA.payload_type)

    @pytest.mark.parametrize(("source", "target"), [(Codec.PCMU, Codec.PCMA), (Codec.PCMA, Codec.PCMU)])
    def test_transcode_table_equals_decode_then_encode(self, source, target):
        """Translating with the table gives exactly what decoding and encoding again gives, for all codes."""
        every_code = bytes(range(256))
        assert encode(target, decode(source, every_code)) == every_code.translate(
            transcode_table(source, target)
        )

    def test_same_codec_needs_no_table(self):
        """Matching codecs are relayed untouched: there is no table."""
        assert None is transcode_table(Codec.PCMA, Codec.PCMA)

    def test_round_trip_keeps_the_signal(self):
        """A tone survives µ-law encoding within G.711's quantisation error."""
        pcm = sine(440, 0.1)
        back = decode(Codec.PCMU, encode(Codec.PCMU, pcm))
        worst = max(
            abs(a - b)
            for a, b in zip(
                struct.unpack(f"{len(pcm) // 2}h", pcm),
                struct.unpack(f"{len(back) // 2}h", back),
                strict=True,
            )
        )
        assert worst < 400


class TestRtpHeader:
    def test_plain_header_is_twelve_bytes(self):
        """Without CSRCs or an extension the payload starts at byte 12."""
        assert 12 == header_length(build(0, 1, 160, 0xABCD, b"\xff" * 160))

    def test_csrcs_and_extension_are_skipped(self):
        """Two CSRCs (8 bytes) and a one-word extension (4 + 4 bytes) move the payload to byte 28."""
        packet = (
            bytes((0x80 | 0x10 | 2, 0)) + bytes(10) + bytes(8) + b"\xbe\xde\x00\x01" + bytes(4) + b"payload"
        )
        assert 28 == header_length(packet)
        assert b"payload" == packet[header_length(packet) : payload_end(packet)]

    def test_padding_is_not_payload(self):
        """The P bit's trailing padding (its last byte says how long) is cut off."""
        packet = bytes((0x80 | 0x20, 0)) + bytes(10) + b"abcd" + b"\x00\x00\x03"
        assert b"abcd" == packet[header_length(packet) : payload_end(packet)]

    def test_payload_type_rewrite_keeps_the_marker(self):
        """Renumbering a telephone-event keeps the marker bit and every other byte."""
        packet = build(101, 7, 1000, 42, b"\x01\x0a\x00\xa0", marker=True)
        rewritten = with_payload_type(packet, 96)
        assert (0x80 | 96, packet[2:]) == (rewritten[1], rewritten[2:])


def _event(timestamp: int, key: int, *, end: bool, seq: int = 1) -> bytes:
    return build(101, seq, timestamp, 7, bytes((key, 0x80 if end else 0)) + (320).to_bytes(2, "big"))


class TestDtmfDetector:
    def test_end_retransmissions_count_once(self):
        """Updates plus three copies of the end packet make one key press."""
        keys: list[str] = []
        detector = DtmfDetector(keys.append)
        for end in (False, False, True, True, True):
            detector.feed(_event(1000, 5, end=end))
        assert ["5"] == keys

    def test_every_key_code_is_named(self):
        """Events 0-15 are 0-9, *, #, A-D."""
        keys: list[str] = []
        detector = DtmfDetector(keys.append)
        for code in range(16):
            detector.feed(_event(1000 + 800 * code, code, end=True))
        assert list("0123456789*#ABCD") == keys

    def test_a_key_whose_end_packets_were_lost_is_reported_when_the_next_begins(self):
        """A lossy link never swallows a digit: the next event's start reports the unfinished one."""
        keys: list[str] = []
        detector = DtmfDetector(keys.append)
        detector.feed(_event(1000, 1, end=False))
        detector.feed(_event(2000, 2, end=False))
        detector.feed(_event(2000, 2, end=True))
        assert ["1", "2"] == keys

    def test_same_key_twice_is_two_presses(self):
        """Two presses of one key differ by timestamp, so both count."""
        keys: list[str] = []
        detector = DtmfDetector(keys.append)
        for timestamp in (1000, 2000):
            for _ in range(3):
                detector.feed(_event(timestamp, 0, end=True))
        assert ["0", "0"] == keys

    def test_non_key_events_are_ignored(self):
        """Event 16 (flash) is not a key press."""
        keys: list[str] = []
        detector = DtmfDetector(keys.append)
        detector.feed(_event(1000, 16, end=True))
        assert [] == keys

    def test_truncated_event_is_ignored(self):
        """A telephone-event shorter than its 4-byte payload is dropped, not misread."""
        keys: list[str] = []
        DtmfDetector(keys.append).feed(build(101, 1, 1000, 7, b"\x01"))
        assert [] == keys
