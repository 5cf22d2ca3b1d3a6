"""Kit tests (run inside Isaac Sim; docs/extension.md names the command): the window opens and closes, a
panel import is undone by Ctrl+Z's command, a bad import is a message and leaves the stage unchanged."""

from __future__ import annotations

import tempfile
from pathlib import Path

import omni.kit.app
import omni.kit.commands
import omni.kit.test
import omni.kit.undo
import omni.ui as ui
import omni.usd
from pxr import Usd

from splattwin.app.panel import PanelController

__all__ = ["TestSplatTwinExtension"]

_REPO = Path(__file__).resolve().parents[4]
_SPLAT = _REPO / "usd_assets" / "tabletop" / "tabletop.ply"


class TestSplatTwinExtension(omni.kit.test.AsyncTestCase):
    async def setUp(self) -> None:
        self._folder = tempfile.TemporaryDirectory()
        self._stage_path = Path(self._folder.name) / "twin.usda"
        # a twin to open in Kit: made by the core, then opened as Kit's stage
        assert PanelController(stage=self._stage_path).import_splat(_SPLAT).ok
        await omni.usd.get_context().open_stage_async(str(self._stage_path))
        await omni.kit.app.get_app().next_update_async()

    async def tearDown(self) -> None:
        await omni.usd.get_context().close_stage_async()
        self._folder.cleanup()

    async def test_window_exists_while_enabled(self) -> None:
        self.assertIsNotNone(ui.Workspace.get_window("SplatTwin"))

    async def test_import_is_undoable(self) -> None:
        box = _REPO / "usd_assets" / "tabletop" / "block.obj"
        _, result = omni.kit.commands.execute(
            "SplatTwinAction",
            stage_path=str(self._stage_path),
            action="import_mesh",
            args=(box, "/World/Box"),
            kwargs={"dynamic": True},
        )
        self.assertTrue(result.ok, result.text)
        self.assertTrue(omni.usd.get_context().get_stage().GetPrimAtPath("/World/Box"))
        omni.kit.undo.undo()
        await omni.kit.app.get_app().next_update_async()
        self.assertFalse(omni.usd.get_context().get_stage().GetPrimAtPath("/World/Box"))
        self.assertFalse(Usd.Stage.Open(str(self._stage_path)).GetPrimAtPath("/World/Box"))

    async def test_bad_import_is_a_message_and_changes_nothing(self) -> None:
        before = {p: p.read_bytes() for p in Path(self._folder.name).rglob("*") if p.is_file()}
        _, result = omni.kit.commands.execute(
            "SplatTwinAction",
            stage_path=str(self._stage_path),
            action="import_splat",
            args=(Path(self._folder.name) / "missing.ply", "/World/Other"),
        )
        self.assertFalse(result.ok)
        self.assertIn("missing.ply", result.text)
        after = {p: p.read_bytes() for p in Path(self._folder.name).rglob("*") if p.is_file()}
        self.assertEqual(before, after)
