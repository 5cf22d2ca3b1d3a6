"""``splattwin remove``: take a prim (and everything below it) out of a twin, from whichever layers hold it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from splattwin.errors import InputError
from splattwin.pipelines._common import check_prim_path_syntax, remove_prim_specs
from splattwin.usd.stage import PHYSICS_SCENE_PATH, edit_twin

__all__ = ["RemoveConfig", "remove_prim"]


@dataclass(kw_only=True)
class RemoveConfig:
    """Attributes:
    stage: the twin's root layer.
    prim: the prim to remove, below /World.
    force: also remove a person's edits of it in the root layer (refused without).
    """

    stage: Path
    prim: str
    force: bool = False

    def validate(self) -> None:
        """Check the options that need no file access."""
        check_prim_path_syntax(self.prim)
        if self.prim == PHYSICS_SCENE_PATH:
            raise InputError("--prim", f"{self.prim} is the twin's physics scene; a twin needs it")


def remove_prim(config: RemoveConfig) -> list[str]:
    """Remove ``config.prim`` from every twin layer holding it (saved atomically); returns those layers' names."""
    config.validate()
    with edit_twin(config.stage, create=False) as twin:
        return remove_prim_specs(twin, config.prim, force=config.force)
