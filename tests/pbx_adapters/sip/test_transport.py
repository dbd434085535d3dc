"""Binding the SIP port: UDP and TCP together, or neither."""

from __future__ import annotations

import socket

import pytest

from pbx_adapters.sip.transport import SipTransport

from .peers import free_port


def _ignore(*_args: object) -> None:
    return None


async def test_a_taken_tcp_port_fails_the_start_and_leaves_udp_unbound():
    """Another program listens on the TCP port: the start fails and leaves no UDP socket bound."""
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        transport = SipTransport("127.0.0.1", port, _ignore)
        with pytest.raises(OSError, match="address already in use"):
            await transport.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", port))  # free again: the failed start closed it


async def test_port_zero_binds_one_port_for_udp_and_tcp():
    transport = SipTransport("127.0.0.1", 0, _ignore)
    await transport.start()
    try:
        with socket.create_connection(("127.0.0.1", transport.port), timeout=2) as tcp:
            assert ("127.0.0.1", transport.port) == tcp.getpeername()
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
            pytest.raises(OSError, match="Address already in use"),
        ):
            udp.bind(("127.0.0.1", transport.port))
    finally:
        await transport.stop()
