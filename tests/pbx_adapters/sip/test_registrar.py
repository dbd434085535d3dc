"""The registrar against sipp: digest registration, wrong passwords, blocking."""

from __future__ import annotations

from cti.events import DeviceRegistered

from .peers import Recorder, Sipp, free_port


class TestRegistration:
    async def test_digest_registration_binds_the_source_address(self, pbx, sipp: Sipp, recorder: Recorder):
        """REGISTER, 401 challenge, REGISTER with the right digest: 200, and the phone is reachable."""
        port = free_port()
        run = await sipp.register("101", port)
        assert 0 == run.rc, run.errors
        bindings = pbx.registrar.contacts("101")
        assert [("udp", "127.0.0.1", port)] == [
            (b.peer.transport, b.peer.host, b.peer.port) for b in bindings
        ]
        assert ["101"] == [e.extension for e in recorder.events if isinstance(e, DeviceRegistered)]


class TestWrongPasswords:
    async def test_a_wrong_password_is_challenged_again_then_the_address_is_blocked(self, pbx, sipp: Sipp):
        """Each wrong digest gets a new 401; after max_auth_failures the address is dropped unanswered."""
        for _ in range(pbx.settings.sip.max_auth_failures):
            run = await sipp.run(
                "register_wrong.xml", service="101", user="101", password="guess", local_ip="127.0.0.4"
            )
            assert 0 == run.rc, run.errors
        assert pbx.auth.guard.blocked("127.0.0.4")
        blocked = await sipp.run(
            "register.xml",
            service="101",
            user="101",
            password="secret-101",
            local_ip="127.0.0.4",
            extra=("-timeout", "2s"),
        )
        assert 0 != blocked.rc
        assert [] == pbx.registrar.contacts("101")
        assert not pbx.auth.guard.blocked("127.0.0.1")

    async def test_an_extension_without_a_secret_cannot_register(self, pbx, sipp: Sipp):
        """Only extensions with a secret have an HA1: anybody else's REGISTER is challenged forever."""
        run = await sipp.run("register_wrong.xml", service="999", user="999", password="x")
        assert 0 == run.rc, run.errors
        assert frozenset() == pbx.registrar.registered()


class TestBindings:
    async def test_two_phones_of_one_extension_both_ring(self, pbx, sipp: Sipp, recorder: Recorder):
        """A desk phone and a softphone register as 102: a call rings both, the first answer wins."""
        desk, soft = free_port(), free_port()
        assert 0 == (await sipp.register("102", desk)).rc
        assert 0 == (await sipp.register("102", soft)).rc
        assert {desk, soft} == {b.peer.port for b in pbx.registrar.contacts("102")}
        answering = await sipp.start("uas_answer.xml", port=desk, pause_ms=200)
        ringing = await sipp.start("uas_ring.xml", port=soft)
        caller = await sipp.run(
            "uac_call.xml",
            service="102",
            user="101",
            password="secret-101",
            pause_ms=500,
            variables={"caller": "101", "caller_name": "Anna Sokolova"},
        )
        assert 0 == caller.rc, caller.errors
        assert 0 == (await sipp.finish(answering, desk)).rc
        assert 0 == (await sipp.finish(ringing, soft)).rc
        (call,) = await recorder.ended_calls(1)
        assert ("answered", "102") == (call.disposition.value, call.answered_by)
