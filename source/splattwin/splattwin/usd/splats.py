"""Gaussians as ``UsdVol.ParticleField3DGaussianSplat`` prims: author, read back, standalone files.

Schema conventions (OpenUSD >= 26.3, ``usdVol/schema.usda``), converted here and nowhere else:

- ``positions`` point3f[] in the prim's local frame (metres on a SplatTwin stage);
- ``orientations`` quatf[]; NumPy's view of a ``VtQuatfArray`` is (i, j, k, real), ours is (w, x, y, z);
- ``scales`` float3[] linear (PLY files store log scales), ``opacities`` float[] linear in [0, 1] (PLY: logit);
- ``radiance:sphericalHarmonicsCoefficients`` float3[] of length N * (degree + 1)^2, grouped by particle,
  in the 3DGS basis order, with the uniform ``radiance:sphericalHarmonicsDegree``;
- ``extent`` is authored here (there is no extent plugin for particle fields): the bounds of each kernel's
  3-sigma ellipsoid, the support the schema's Gaussian-ellipsoid kernel documents;
- ``primvars:displayColor`` per particle (the DC colour), so viewers without a splat renderer draw a point
  cloud of the right colours.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians, num_sh_coeffs, sh0_to_rgb
from splattwin.geometry.transforms import quat_wxyz_to_matrix

if TYPE_CHECKING:
    from pxr import Usd, UsdVol

__all__ = [
    "CLAIMED_FROM_KEY",
    "CLAIM_MARGIN_KEY",
    "SPLAT_KERNEL_SIGMAS",
    "claimed_below",
    "claims_from",
    "define_gaussians_prim",
    "gaussians_extent",
    "read_gaussians_prim",
    "read_gaussians_usd",
    "write_gaussians_usd",
]

SPLAT_KERNEL_SIGMAS = 3.0
"""Kernel support, in standard deviations, used for ``extent`` (the schema's 99.7% radius)."""

_EXTENT_CHUNK = 262_144

CLAIMED_FROM_KEY = "splattwin:claimedFrom"
"""``customData`` of a body's ``Gaussians`` prim written by ``claim``: the splat prim path they were taken from."""

CLAIM_MARGIN_KEY = "splattwin:claimMargin"
"""``customData`` of a body's ``Gaussians`` prim written by ``claim``: that claim's margin [m]."""


def claimed_below(stage: Usd.Stage, prim_path: str) -> list[str]:
    """One phrase per claimed ``Gaussians`` prim at or below ``prim_path``: "the N Gaussians BODY had claimed from
    SPLAT" (what goes when that prim is removed or replaced)."""
    from pxr import Usd, UsdVol  # noqa: PLC0415

    prim = stage.GetPrimAtPath(prim_path)
    found = []
    for below in Usd.PrimRange(prim) if prim else []:
        source = below.GetCustomDataByKey(CLAIMED_FROM_KEY)
        if source and below.IsA(UsdVol.ParticleField3DGaussianSplat):
            count = len(below.GetAttribute("positions").Get() or [])
            found.append(f"the {count} Gaussians {below.GetParent().GetPath()} had claimed from {source}")
    return found


def claims_from(stage: Usd.Stage, splat: str) -> list[str]:
    """Rigid bodies whose ``Gaussians`` child was claimed from the splat prim path ``splat`` (existing or not)."""
    from pxr import UsdPhysics, UsdVol  # noqa: PLC0415

    bodies = []
    for prim in stage.Traverse():
        if prim.GetName() == "Gaussians" and prim.GetCustomDataByKey(CLAIMED_FROM_KEY) == splat:
            body = prim.GetParent()
            if prim.IsA(UsdVol.ParticleField3DGaussianSplat) and body.HasAPI(UsdPhysics.RigidBodyAPI):
                bodies.append(str(body.GetPath()))
    return bodies


def gaussians_extent(gaussians: Gaussians, *, sigmas: float = SPLAT_KERNEL_SIGMAS) -> np.ndarray:
    """Axis-aligned bounds [2, 3] (min, max) of every Gaussian's ``sigmas``-sigma ellipsoid, local frame, metres.

    The half-width of a rotated ellipsoid along world axis i is ``sigmas * sqrt(sum_j (R_ij s_j)^2)``.
    """
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    for start in range(0, len(gaussians), _EXTENT_CHUNK):
        part = slice(start, start + _EXTENT_CHUNK)
        rotation = quat_wxyz_to_matrix(gaussians.quats_wxyz[part], dtype=np.float32)  # ample for a bounding box
        half = sigmas * np.sqrt(np.einsum("nij,nj->ni", rotation**2, gaussians.scales[part] ** 2))
        lo = np.minimum(lo, (gaussians.means[part] - half).min(axis=0))
        hi = np.maximum(hi, (gaussians.means[part] + half).max(axis=0))
    return np.stack([lo, hi])


def define_gaussians_prim(
    stage: Usd.Stage,
    prim_path: str,
    gaussians: Gaussians,
    *,
    custom_data: dict[str, Any] | None = None,
) -> UsdVol.ParticleField3DGaussianSplat:
    """Author a Gaussian set as a ParticleField3DGaussianSplat prim at the stage's current edit target.

    Args:
        stage: the stage to author on (its edit target picks the layer).
        prim_path: absolute prim path of the new prim.
        gaussians: validated Gaussians in the prim's local frame.
        custom_data: extra ``customData`` for the prim (provenance, frame records).

    Returns:
        The schema object of the new prim.
    """
    from pxr import Sdf, UsdGeom, UsdVol, Vt  # noqa: PLC0415

    gaussians.validate(prim_path)
    n = len(gaussians)
    quats_ijkr = np.empty((n, 4), dtype=np.float32)
    quats_ijkr[:, :3] = gaussians.quats_wxyz[:, 1:]
    quats_ijkr[:, 3] = gaussians.quats_wxyz[:, 0]
    norms = np.linalg.norm(quats_ijkr, axis=1, keepdims=True)
    if np.abs(norms - 1).max() > 1e-6:  # renormalise only what is not unit already, keeping exact round trips
        quats_ijkr /= norms
    extent = gaussians_extent(gaussians)
    prim = UsdVol.ParticleField3DGaussianSplat.Define(stage, prim_path)
    color = UsdGeom.PrimvarsAPI(prim).CreatePrimvar(
        "displayColor", Sdf.ValueTypeNames.Color3fArray, UsdGeom.Tokens.vertex
    )
    values = [
        (prim.CreatePositionsAttr(), Vt.Vec3fArray.FromNumpy(gaussians.means)),
        (prim.CreateOrientationsAttr(), Vt.QuatfArray.FromNumpy(quats_ijkr)),
        (prim.CreateScalesAttr(), Vt.Vec3fArray.FromNumpy(gaussians.scales)),
        (prim.CreateOpacitiesAttr(), Vt.FloatArray.FromNumpy(gaussians.opacities)),
        (prim.CreateRadianceSphericalHarmonicsDegreeAttr(), gaussians.sh_degree),
        (prim.CreateRadianceSphericalHarmonicsCoefficientsAttr(), Vt.Vec3fArray.FromNumpy(gaussians.sh.reshape(-1, 3))),
        (prim.CreateExtentAttr(), Vt.Vec3fArray.FromNumpy(extent.astype(np.float32))),
        (color.GetAttr(), Vt.Vec3fArray.FromNumpy(sh0_to_rgb(gaussians.sh[:, 0, :]))),
    ]
    del quats_ijkr
    # The attributes exist now; only their values are set inside the change block (Usd calls that compose,
    # such as Define, are not safe inside one).
    with Sdf.ChangeBlock():
        for attr, value in values:
            attr.Set(value)
        for key, value in (custom_data or {}).items():
            prim.GetPrim().SetCustomDataByKey(key, value)
    return prim


def _array(attr: Any, dtype: type = np.float32) -> np.ndarray | None:
    if not attr or not attr.HasAuthoredValue():
        return None
    value = attr.Get()
    if value is None:
        return None
    return np.array(value, dtype=dtype)


def read_gaussians_prim(prim: Usd.Prim) -> Gaussians:
    """Read a ParticleField3DGaussianSplat prim back into :class:`Gaussians`, in the prim's local frame.

    Follows the schema's fallbacks: the half-precision attributes when the float ones are missing, identity
    orientations, unit scales, full opacity and a grey DC colour where attributes are missing, and arrays that
    are too long truncated to the particle count (too short: ignored, as the schema says).

    Raises:
        InputError: the prim is not a Gaussian particle field, or has no positions.
    """
    from pxr import UsdVol  # noqa: PLC0415

    where = f"{prim.GetStage().GetRootLayer().identifier}:{prim.GetPath()}"
    if not prim or not prim.IsA(UsdVol.ParticleField3DGaussianSplat):
        raise InputError(where, "is not a UsdVol.ParticleField3DGaussianSplat prim")
    field = UsdVol.ParticleField3DGaussianSplat(prim)

    def first(*names: str) -> np.ndarray | None:
        for name in names:
            value = _array(prim.GetAttribute(name))
            if value is not None:
                return value
        return None

    means = first("positions", "positionsh")
    if means is None or len(means) == 0:
        raise InputError(where, "has no positions (an empty particle field)")
    n = len(means)

    def per_particle(value: np.ndarray | None, default: np.ndarray) -> np.ndarray:
        if value is None or len(value) < n:  # the schema: too short is ignored, too long truncated
            return np.broadcast_to(default, (n,) + default.shape).copy()
        return value[:n]

    quats_ijkr = per_particle(first("orientations", "orientationsh"), np.array([0, 0, 0, 1], np.float32))
    quats = np.concatenate([quats_ijkr[:, 3:], quats_ijkr[:, :3]], axis=1)
    scales = per_particle(first("scales", "scalesh"), np.ones(3, np.float32))
    opacities = per_particle(first("opacities", "opacitiesh"), np.ones((), np.float32))
    degree_attr = field.GetRadianceSphericalHarmonicsDegreeAttr()
    degree = int(degree_attr.Get()) if degree_attr else 0
    coeffs = first("radiance:sphericalHarmonicsCoefficients", "radiance:sphericalHarmonicsCoefficientsh")
    k = num_sh_coeffs(degree) if degree in (0, 1, 2, 3) else 0
    if coeffs is None or k == 0 or len(coeffs) < n * k:
        sh = np.zeros((n, 1, 3), np.float32)  # the schema's fallback: DC colour (0.5, 0.5, 0.5)
    else:
        sh = coeffs[: n * k].reshape(n, k, 3)
    gaussians = Gaussians(means=means, quats_wxyz=quats, scales=scales, opacities=opacities, sh=sh)
    gaussians.validate(where)
    return gaussians


def write_gaussians_usd(path: str | Path, gaussians: Gaussians, *, prim_path: str = "/World/Gaussians") -> Path:
    """Write a standalone USD file (z-up, metres) holding one Gaussian prim; atomic (temp file, then rename).

    Args:
        path: destination ``.usdc`` (binary, for big arrays), ``.usda`` or ``.usd``.
        gaussians: validated Gaussians in world coordinates of the new file.
        prim_path: where the prim goes; its parent Xforms are created and the root prim is the default prim.

    Returns:
        The path written.
    """
    from pxr import Sdf, Usd, UsdGeom  # noqa: PLC0415

    from splattwin.io import atomic_output  # noqa: PLC0415

    path = Path(path)
    if path.suffix not in (".usdc", ".usda", ".usd"):
        raise InputError(path, f"unsupported USD suffix {path.suffix!r} (use .usdc, .usda or .usd)")
    with atomic_output(path) as tmp:
        layer = Sdf.Layer.CreateAnonymous(path.suffix)
        stage = Usd.Stage.Open(layer)
        UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
        UsdGeom.SetStageMetersPerUnit(stage, 1.0)
        root = Sdf.Path(prim_path).GetPrefixes()[0]
        for prefix in Sdf.Path(prim_path).GetPrefixes()[:-1]:
            UsdGeom.Xform.Define(stage, prefix)
        define_gaussians_prim(stage, prim_path, gaussians)
        stage.SetDefaultPrim(stage.GetPrimAtPath(root))
        layer.Export(str(tmp))
    return path


def read_gaussians_usd(path: str | Path, prim_path: str | None = None) -> Gaussians:
    """Read the Gaussians of one prim of a USD file (the first Gaussian prim found when ``prim_path`` is None).

    The arrays are in the prim's local frame; its transform on the stage is not applied.
    """
    from pxr import UsdVol  # noqa: PLC0415

    from splattwin.usd.stage import open_usd_stage  # noqa: PLC0415

    stage = open_usd_stage(path)
    if prim_path is None:
        found = [p for p in stage.Traverse() if p.IsA(UsdVol.ParticleField3DGaussianSplat)]
        if not found:
            raise InputError(path, "holds no ParticleField3DGaussianSplat prim")
        prim = found[0]
    else:
        prim = stage.GetPrimAtPath(prim_path)
        if not prim:
            raise InputError(path, f"has no prim at {prim_path}")
    return read_gaussians_prim(prim)
