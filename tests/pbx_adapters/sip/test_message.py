"""SIP message parsing and serializing, with hostile input (RFC 4475 style)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pbx_adapters.sip.message import (
    MAX_MESSAGE_BYTES,
    BadMessage,
    NameAddr,
    SipUri,
    frame_length,
    parse_message,
    response_to,
)
from pbx_adapters.sip.sdp import SdpError, build_sdp, parse_sdp

INVITE = (
    b"INVITE sip:102@pbx.example;transport=udp SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK776asdhds;rport\r\n"
    b"v: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKsecond\r\n"
    b"Max-Forwards: 70\r\n"
    b'f: "Anna, Sales" <sip:101@pbx.example>;tag=1928301774\r\n'
    b"To: <sip:102@pbx.example>\r\n"
    b"i: a84b4c76e66710@10.0.0.5\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:101@10.0.0.5:5062>, <sip:101@192.168.1.5>\r\n"
    b"Subject: line\r\n  folded\r\n"
    b"Content-Type: application/sdp\r\n"
    b"l: 4\r\n\r\nv=0\r\nextra"
)


class TestParse:
    def test_a_request_with_compact_and_folded_headers(self):
        """Compact names are expanded, folded lines joined, the body cut at Content-Length."""
        msg = parse_message(INVITE)
        assert ("INVITE", "a84b4c76e66710@10.0.0.5", (314159, "INVITE")) == (
            msg.method,
            msg.call_id,
            msg.cseq,
        )
        assert ("Anna, Sales", "101", "1928301774") == (msg.from_.display, msg.from_.uri.user, msg.from_.tag)
        assert ["z9hG4bK776asdhds", "z9hG4bKsecond"] == [
            v.split("branch=")[1].split(";")[0] for v in msg.header_values("Via")
        ]
        assert 2 == len(msg.header_values("Contact"))
        assert "line folded" == msg.header("Subject")
        assert b"v=0\r" == msg.body

    def test_encode_then_parse_is_the_same_message(self):
        """What we send parses back to the same start line, headers and body."""
        msg = parse_message(INVITE)
        again = parse_message(msg.encode())
        assert (msg.method, msg.uri, msg.headers[:-1], msg.body) == (
            again.method,
            again.uri,
            again.headers[:-1],
            again.body,
        )

    def test_a_response_copies_the_dialog_headers_and_adds_our_tag(self):
        """§8.2.6: Via (all), From, To (+ tag), Call-ID, CSeq."""
        response = response_to(parse_message(INVITE), 180, "Ringing", to_tag="abc")
        assert 2 == len(response.header_values("Via"))
        assert "abc" == response.to.tag

    @pytest.mark.parametrize(
        ("data", "answerable"),
        [
            (b"\x00\x01garbage", False),
            (b"INVITE sip:x SIP/2.0\r\n", False),
            (b"INVITE sip:102@h SIP/3.0\r\nVia: x\r\n\r\n", False),
            (INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: x INVITE"), True),
            (INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: 1 BYE"), True),
            (INVITE.replace(b"l: 4", b"l: 9999"), True),
            (INVITE.replace(b"i: a84b4c76e66710@10.0.0.5\r\n", b""), False),
            (INVITE.replace(b"Max-Forwards: 70", b"Max Forwards: 70"), True),
            (INVITE.replace(b"To: <sip:102@pbx.example>", b"To: <sip:102@pbx.example"), True),
            (b"SIP/2.0 99 Odd\r\nVia: x\r\n\r\n", False),
            (INVITE.replace(b"Subject: line", b"Subject: " + b"x" * 5000), True),
            (b"INVITE sip:a@b SIP/2.0\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", False),
            (INVITE.replace(b"f: ", b"f: \xff\xfe"), False),
        ],
        ids=[
            "binary",
            "no-blank-line",
            "sip-3",
            "cseq-not-number",
            "cseq-method-mismatch",
            "body-short",
            "no-call-id",
            "space-in-name",
            "unclosed-angle",
            "status-99",
            "long-line",
            "too-many-headers",
            "not-utf8",
        ],
    )
    def test_malformed_input_is_refused_with_a_reason(self, data: bytes, answerable: bool):
        """Every malformed message raises BadMessage; only a request we can address gets a 400."""
        with pytest.raises(BadMessage) as caught:
            parse_message(data)
        assert answerable == caught.value.answerable
        assert caught.value.reason

    def test_an_oversized_message_is_refused_before_parsing(self):
        """More than 64 KiB is refused whatever it holds."""
        with pytest.raises(BadMessage, match="exceeds"):
            parse_message(INVITE + b"x" * MAX_MESSAGE_BYTES)

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=2048))
    def test_random_bytes_never_raise_anything_but_bad_message(self, data: bytes):
        """Fuzz: any bytes either parse or raise BadMessage (never another exception)."""
        with contextlib.suppress(BadMessage):
            parse_message(data)

    @settings(max_examples=200, deadline=None)
    @given(st.integers(min_value=0, max_value=len(INVITE)), st.binary(max_size=64))
    def test_damaged_invites_never_raise_anything_but_bad_message(self, cut: int, noise: bytes):
        """Fuzz: a real INVITE with bytes replaced anywhere is parsed or refused cleanly."""
        with contextlib.suppress(BadMessage):
            parse_message(INVITE[:cut] + noise + INVITE[cut + len(noise) :])


class TestStreamFraming:
    def test_a_stream_is_cut_by_content_length(self):
        """Two messages back to back on TCP are found one after the other."""
        data = INVITE + INVITE
        first = frame_length(data)
        assert first is not None
        assert INVITE.index(b"\r\n\r\n") + 4 + 4 == first

    def test_an_incomplete_message_waits_for_more(self):
        """Half a message is not a message yet."""
        assert frame_length(INVITE[:40]) is None

    def test_a_stream_message_without_length_cannot_be_framed(self):
        """On a stream, Content-Length is mandatory (RFC 3261 §18.3)."""
        with pytest.raises(BadMessage):
            frame_length(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n")


class TestAddresses:
    def test_uri_with_port_and_params(self):
        """user, host, port and parameters of a SIP URI."""
        uri = SipUri.parse("sip:101:pw@[2001:db8::1]:5070;transport=tcp;lr")
        assert ("101", "2001:db8::1", 5070, {"transport": "tcp", "lr": ""}) == (
            uri.user,
            uri.host,
            uri.port,
            uri.params,
        )

    def test_name_addr_keeps_display_and_tag(self):
        """A quoted display name with a comma, the URI in angle brackets, the tag after it."""
        addr = NameAddr.parse('"Ivan, Sales" <sip:101@pbx;user=phone>;tag=xyz')
        assert ("Ivan, Sales", "101", "xyz") == (addr.display, addr.uri.user, addr.tag)


class TestSdp:
    def test_offer_with_media_level_address_and_telephone_event(self):
        """The media-level c= wins; telephone-event's payload type is found; codecs in order."""
        sdp = parse_sdp(
            b"v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nc=IN IP4 1.1.1.1\r\nt=0 0\r\n"
            b"m=audio 4000 RTP/AVP 8 0 18 96\r\nc=IN IP4 192.0.2.2\r\na=rtpmap:96 telephone-event/8000\r\n"
            b"a=sendonly\r\n"
        )
        assert ("192.0.2.2", 4000, (8, 0), 96, True) == (
            sdp.host,
            sdp.port,
            sdp.codecs,
            sdp.dtmf_pt,
            sdp.on_hold,
        )

    def test_our_answer_parses_back(self):
        """What build_sdp writes is what parse_sdp reads."""
        sdp = parse_sdp(build_sdp("10.0.0.1", 20000, (0, 8), 101))
        assert ("10.0.0.1", 20000, (0, 8), 101, False) == (
            sdp.host,
            sdp.port,
            sdp.codecs,
            sdp.dtmf_pt,
            sdp.on_hold,
        )

    def test_no_audio_is_an_error(self):
        """A body without an audio stream cannot be answered (488)."""
        with pytest.raises(SdpError):
            parse_sdp(b"v=0\r\nm=video 5000 RTP/AVP 96\r\n")
