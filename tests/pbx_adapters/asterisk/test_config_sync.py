"""Rendered configuration reaches Asterisk only if it reloads it; otherwise the old files stay."""

from __future__ import annotations

from config.dialplan_spec import DialplanSpec
from pbx_adapters.asterisk.ami import AmiConnection
from pbx_adapters.asterisk.config_sync import RELOADS, AsteriskConfigSync

from .test_ami_faults import ScriptedAmi, answer, settings, until, wire

PLAN = DialplanSpec()


def render(_spec):
    return {"extensions.conf": "[from-internal]\nexten => 101,1,Dial(PJSIP/101)\n", "pjsip.conf": "[101]\n"}


async def connected(peer) -> AmiConnection:
    link = AmiConnection(settings(peer.port), lambda event: None)
    await link.start()
    await until(lambda: link.connected)
    return link


class TestAsteriskConfigSync:
    async def test_files_are_written_then_every_module_reloaded(self, tmp_path):
        """
        The plan's files land in the directory and Asterisk reloads the four modules, in order.
        """
        reloaded = []

        async def reply(connection, fields, writer):
            if fields["Action"] == "Reload":
                reloaded.append(fields["Module"])
            await answer(fields, writer)

        async with ScriptedAmi(reply) as peer:
            link = await connected(peer)
            applied = await AsteriskConfigSync(link, tmp_path, render).apply(PLAN)
            await link.stop()

        assert applied is True
        assert list(RELOADS) == reloaded
        assert render(PLAN) == {p.name: p.read_text() for p in tmp_path.iterdir()}

    async def test_a_refused_reload_puts_the_previous_files_back(self, tmp_path):
        """
        Asterisk refuses res_pjsip's reload: extensions.conf gets its old text back, and pjsip.conf,
        which did not exist before, is removed again.
        """
        (tmp_path / "extensions.conf").write_text("; the configuration Asterisk runs now\n")

        async def reply(connection, fields, writer):
            if fields.get("Module") == "res_pjsip.so":
                writer.write(wire(Response="Error", ActionID=fields["ActionID"], Message="Reload failed"))
                return
            await answer(fields, writer)

        async with ScriptedAmi(reply) as peer:
            link = await connected(peer)
            applied = await AsteriskConfigSync(link, tmp_path, render).apply(PLAN)
            await link.stop()

        assert applied is False
        assert {"extensions.conf": "; the configuration Asterisk runs now\n"} == {
            p.name: p.read_text() for p in tmp_path.iterdir()
        }

    async def test_asterisk_unreachable_keeps_the_previous_files(self, tmp_path):
        """
        No AMI link: nothing could be reloaded, so nothing is left changed on disk.
        """
        link = AmiConnection(settings(1), lambda event: None)  # never started: not connected

        applied = await AsteriskConfigSync(link, tmp_path, render).apply(PLAN)

        assert applied is False
        assert [] == list(tmp_path.iterdir())
