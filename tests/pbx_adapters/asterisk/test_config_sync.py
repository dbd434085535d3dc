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

    async def test_a_plan_the_renderer_cannot_carry_changes_nothing(self, tmp_path):
        """
        Rendering fails (say, a regex Asterisk cannot take): logged, no file touched, no reload.
        """
        from structlog.testing import capture_logs

        def broken(_spec):
            raise ValueError("outbound pattern '\\\\w+': Asterisk's REGEX() cannot take it")

        link = AmiConnection(settings(1), lambda event: None)
        with capture_logs() as logs:
            applied = await AsteriskConfigSync(link, tmp_path, broken).apply(PLAN)

        assert applied is False
        assert [] == list(tmp_path.iterdir())
        assert "asterisk_config_not_rendered" in [entry["event"] for entry in logs]

    async def test_after_a_refusal_asterisk_reloads_the_restored_files(self, tmp_path):
        """
        pbx_config already read the new extensions.conf when res_pjsip refused: the modules are
        reloaded again from the restored files, so Asterisk runs what is on disk.
        """
        reloaded = []

        async def reply(connection, fields, writer):
            if fields["Action"] == "Reload":
                reloaded.append(fields["Module"])
                if fields["Module"] == "res_pjsip.so" and reloaded.count("res_pjsip.so") == 1:
                    writer.write(wire(Response="Error", ActionID=fields["ActionID"], Message="Reload failed"))
                    return
            await answer(fields, writer)

        async with ScriptedAmi(reply) as peer:
            link = await connected(peer)
            await AsteriskConfigSync(link, tmp_path, render).apply(PLAN)
            await link.stop()

        assert ["pbx_config.so", "res_pjsip.so", *RELOADS] == reloaded

    async def test_files_are_readable_by_the_asterisk_group_only(self, tmp_path):
        """
        pjsip.conf holds passwords: 0640, like `cti dialplan render-asterisk` writes it.
        """

        async def reply(connection, fields, writer):
            await answer(fields, writer)

        async with ScriptedAmi(reply) as peer:
            link = await connected(peer)
            await AsteriskConfigSync(link, tmp_path, render).apply(PLAN)
            await link.stop()

        assert 0o640 == (tmp_path / "pjsip.conf").stat().st_mode & 0o777
