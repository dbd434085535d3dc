"""Transactions over real sockets: retransmissions that recover lost messages, OPTIONS, TCP."""

from __future__ import annotations

import asyncio

import pytest

from cti.errors import PbxUnavailable
from pbx_adapters.sip.pbx import SipPbx

from .conftest import settings
from .peers import LossyLink, Recorder, Sipp, free_port


class TestRetransmissions:
    async def test_lost_invite_and_lost_200_are_repeated_until_the_call_is_up(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """The INVITE to the callee and the 200 OK to the caller are each lost once: Timer A repeats
        the INVITE, the 2xx is repeated until the ACK; the call connects and ends normally."""
        to_callee = LossyLink(pbx.address, drop=(b"INVITE ",))
        to_caller = LossyLink(pbx.address, drop=(b"SIP/2.0 200",))
        callee_link, caller_link = await to_callee.start(), await to_caller.start()
        try:
            port = free_port()
            assert 0 == (await sipp.register("102", port, via=callee_link)).rc
            callee = await sipp.start("uas_answer.xml", port=port, pause_ms=200, via=callee_link)
            caller = await sipp.run(
                "uac_call.xml",
                service="102",
                user="101",
                password="secret-101",
                pause_ms=500,
                via=caller_link,
                variables={"caller": "101", "caller_name": "Anna Sokolova"},
            )
            assert 0 == caller.rc, caller.errors
            assert 0 == (await sipp.finish(callee, port)).rc
        finally:
            to_callee.close()
            to_caller.close()
        assert 1 == len(to_callee.dropped) == len(to_caller.dropped)
        (call,) = await recorder.ended_calls(1)
        assert "answered" == call.disposition.value
        assert pbx.endpoint.layer.retransmissions >= 1


class TestOptions:
    async def test_options_is_answered_over_udp_and_tcp(self, pbx):
        """The keep-alive phones and carriers send: 200 with Allow, on both transports."""
        host, port = pbx.address
        request = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            "Via: SIP/2.0/{t} 127.0.0.1:5999;rport;branch=z9hG4bKopt{t}\r\n"
            "From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:pbx@127.0.0.1>\r\nCall-ID: opt-{t}\r\n"
            "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        loop = asyncio.get_running_loop()
        answers: asyncio.Queue[bytes] = asyncio.Queue()

        class Probe(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                answers.put_nowait(data)

        udp, _ = await loop.create_datagram_endpoint(Probe, local_addr=("127.0.0.1", 0))
        udp.sendto(request.format(t="UDP").encode(), (host, port))
        async with asyncio.timeout(5):
            udp_answer = await answers.get()
        udp.close()
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(request.format(t="TCP").encode())
        async with asyncio.timeout(5):
            tcp_answer = await reader.readuntil(b"\r\n\r\n")
        writer.close()
        for answer in (udp_answer, tcp_answer):
            assert answer.startswith(b"SIP/2.0 200 OK\r\n")
            assert b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS" in answer


class TestStartup:
    async def test_a_busy_sip_port_is_a_clear_error(self, pbx, tmp_path, recorder: Recorder):
        """A second PBX on the same port says which port and what to change."""
        second = SipPbx(
            settings(tmp_path, port=pbx.address[1], rtp_port_min=43000, rtp_port_max=43099), recorder.publish
        )
        with pytest.raises(PbxUnavailable, match=f"127.0.0.1:{pbx.address[1]}.*sip.port"):
            await second.start()
        assert not second.connected


BAD_CSEQ = (
    b"OPTIONS sip:pbx@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bKbad\r\n"
    b"From: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:pbx@127.0.0.1>\r\nCall-ID: bad-1\r\n"
    b"CSeq: many OPTIONS\r\nContent-Length: 0\r\n\r\n"
)
GOOD_OPTIONS = (
    BAD_CSEQ.replace(b"CSeq: many", b"CSeq: 1")
    .replace(b"bad-1", b"good-1")
    .replace(b"z9hG4bKbad", b"z9hG4bKgood")
)


class _Probe(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answers: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.answers.put_nowait(data)


class TestHostileInput:
    async def test_garbage_is_dropped_malformed_requests_get_400_and_the_pbx_keeps_answering(self, pbx):
        """Binary junk and a 65 000-byte datagram are dropped and counted; a request with a bad CSeq
        gets 400 naming the problem; a good OPTIONS right after is answered 200."""
        host, port = pbx.address
        transport, probe = await asyncio.get_running_loop().create_datagram_endpoint(
            _Probe, local_addr=("127.0.0.1", 0)
        )
        try:
            transport.sendto(bytes(range(256)) * 4, (host, port))
            transport.sendto(b"INVITE " + b"A" * 65_000, (host, port))
            transport.sendto(BAD_CSEQ, (host, port))
            transport.sendto(GOOD_OPTIONS, (host, port))
            async with asyncio.timeout(5):
                first, second = await probe.answers.get(), await probe.answers.get()
        finally:
            transport.close()
        assert first.startswith(b"SIP/2.0 400 Bad Request (bad CSeq")
        assert second.startswith(b"SIP/2.0 200 OK")
        assert 3 == pbx.endpoint.transport.dropped

    async def test_a_tcp_stream_that_cannot_be_framed_is_closed(self, pbx):
        """On TCP a message without Content-Length loses the stream's framing: the PBX closes it."""
        reader, writer = await asyncio.open_connection(*pbx.address)
        writer.write(
            b"OPTIONS sip:pbx@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKx\r\n\r\n"
        )
        async with asyncio.timeout(5):
            assert b"" == await reader.read()
        writer.close()
