"""With ``ami.config_dir`` set, applying a dialplan renders it for Asterisk and reloads it over AMI."""

from __future__ import annotations

import asyncio

from pydantic import SecretStr

from config.settings import AmiSettings, PbxMode, PbxSettings
from pbx_adapters.asterisk.config_sync import RELOADS
from tests.conftest import ROOT
from tests.pbx_adapters.asterisk.test_ami_faults import ScriptedAmi, answer, until
from web import keys
from web.app import create_app


async def test_an_applied_plan_reaches_asterisk(aiohttp_client, settings, tmp_path):
    """
    Apply the shipped plan through the one apply path: the four files land in the config
    directory and Asterisk is asked to reload the four modules.
    """
    reloaded = []

    async def reply(connection, fields, writer):
        if fields["Action"] == "Reload":
            reloaded.append(fields["Module"])
        await answer(fields, writer)

    async with ScriptedAmi(reply) as peer:
        configured = settings.model_copy(
            update={
                "pbx": PbxSettings(mode=PbxMode.ASTERISK),
                "ami": AmiSettings(
                    port=peer.port,
                    secret=SecretStr("s"),
                    reconnect_delay=0.05,
                    config_dir=tmp_path / "asterisk",
                ),
                "dialplan": tmp_path / "dialplan.yaml",
            }
        )
        app = create_app(configured)
        await aiohttp_client(app)
        await until(lambda: app[keys.PBX].connected)

        text = (ROOT / "config" / "dialplan.yaml").read_text(encoding="utf-8")
        await app[keys.DIALPLAN].apply(text, actor="test", source="cli")
        await until(lambda: len(reloaded) == len(RELOADS))
        await asyncio.sleep(0)

    written = sorted(path.name for path in (tmp_path / "asterisk").iterdir())
    assert ["confbridge.conf", "extensions.conf", "features.conf", "pjsip.conf"] == written
    assert list(RELOADS) == reloaded
    assert "atxfer => *2" in (tmp_path / "asterisk" / "features.conf").read_text()
