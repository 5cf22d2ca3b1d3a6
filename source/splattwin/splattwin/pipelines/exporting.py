"""``splattwin export-splat``: a twin's Gaussian prim back to a file (PLY, SPZ or .splat)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from splattwin.errors import InputError
from splattwin.io import check_new_outputs, write_gaussians
from splattwin.usd.prims import local_to_world
from splattwin.usd.splats import read_gaussians_prim
from splattwin.usd.stage import open_twin

__all__ = ["ExportSplatConfig", "export_splat"]


@dataclass(kw_only=True)
class ExportSplatConfig:
    """Attributes:
    stage: the twin's root layer.
    prim: the ParticleField3DGaussianSplat prim to export.
    out: destination file; its suffix picks the format.
    frame: ``world`` (the prim's transform applied, z-up metres) or ``local`` (the arrays as stored).
    overwrite: replace an existing ``out`` (refused without).
    spz_frame: for an ``.spz`` out, the axes to store (:data:`splattwin.io.spz.SPZ_FRAMES`): ``rub`` (the SPZ
        spec's: the Gaussians, taken as a PLY's RDF, turned half a turn about x) or ``rdf`` (as a PLY would hold
        them); None is :data:`~splattwin.io.spz.DEFAULT_SPZ_FRAME`. Refused for other formats.
    """

    stage: Path
    prim: str
    out: Path
    frame: str = "world"
    overwrite: bool = False
    spz_frame: str | None = None

    def validate(self) -> None:
        """Check the options."""
        from splattwin.io.spz import SPZ_FRAMES  # noqa: PLC0415

        if self.frame not in ("world", "local"):
            raise InputError("--frame", f"must be 'world' or 'local', got {self.frame!r}")
        if self.spz_frame is not None and self.out.suffix.lower() != ".spz":
            raise InputError("--spz-frame", f"only applies to an .spz output, not {self.out.name}")
        if self.spz_frame is not None and self.spz_frame not in SPZ_FRAMES:
            raise InputError("--spz-frame", f"must be one of {', '.join(SPZ_FRAMES)}, got {self.spz_frame!r}")


def export_splat(config: ExportSplatConfig) -> int:
    """Write the prim's Gaussians to ``config.out``; returns how many were written."""
    from pxr import UsdVol  # noqa: PLC0415

    config.validate()
    check_new_outputs(config.out, force=config.overwrite)
    twin = open_twin(config.stage)
    prim = twin.stage.GetPrimAtPath(config.prim)
    if not prim:
        raise InputError(config.stage, f"has no prim at {config.prim}")
    if not prim.IsA(UsdVol.ParticleField3DGaussianSplat):
        raise InputError(config.prim, f"is a {prim.GetTypeName() or 'typeless'} prim, not a Gaussian splat prim")
    gaussians = read_gaussians_prim(prim)
    if config.frame == "world":
        to_world = local_to_world(prim)
        if not to_world.is_identity():
            gaussians = to_world.apply_gaussians(gaussians)
    if config.out.suffix.lower() == ".spz":
        from splattwin.io.spz import DEFAULT_SPZ_FRAME, write_spz  # noqa: PLC0415

        write_spz(config.out, gaussians, frame=config.spz_frame or DEFAULT_SPZ_FRAME)
    else:
        write_gaussians(config.out, gaussians)
    return len(gaussians)
