"""Gaussians as UsdVol.ParticleField3DGaussianSplat: schema conventions checked against hand-computed values."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import random_gaussians
from pxr import Usd, UsdVol

from splattwin.gaussians import SH_C0, Gaussians
from splattwin.io import read_gaussians, write_gaussians
from splattwin.usd import read_gaussians_usd, validate_stage, write_gaussians_usd
from splattwin.usd.splats import gaussians_extent


def _hand_made_ply(path: Path) -> None:
    """One SH-degree-1 Gaussian with values chosen so every conversion is visible."""
    names = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2"] + [f"f_rest_{i}" for i in range(9)]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    values = [1.0, 2.0, 3.0, 0.1, 0.2, 0.3] + [float(10 + i) for i in range(9)]
    # logit(0.5) = 0; log scales of 0.5, 0.25, 2; (w, x, y, z) = (0.5, 0.5, -0.5, 0.5).
    values += [0.0, math.log(0.5), math.log(0.25), math.log(2.0), 0.5, 0.5, -0.5, 0.5]
    header = "ply\nformat binary_little_endian 1.0\nelement vertex 1\n"
    header += "".join(f"property float {n}\n" for n in names) + "end_header\n"
    path.write_bytes(header.encode() + struct.pack(f"<{len(values)}f", *values))


def test_schema_conventions_hand_computed(tmp_path: Path) -> None:
    _hand_made_ply(tmp_path / "one.ply")
    write_gaussians_usd(tmp_path / "one.usda", read_gaussians(tmp_path / "one.ply"), prim_path="/World/G")
    stage = Usd.Stage.Open(str(tmp_path / "one.usda"))
    field = UsdVol.ParticleField3DGaussianSplat(stage.GetPrimAtPath("/World/G"))
    quat = field.GetOrientationsAttr().Get()[0]
    assert quat.GetReal() == pytest.approx(0.5)
    assert tuple(quat.GetImaginary()) == pytest.approx((0.5, -0.5, 0.5))
    assert tuple(field.GetScalesAttr().Get()[0]) == pytest.approx((0.5, 0.25, 2.0))  # linear, not log
    assert field.GetOpacitiesAttr().Get()[0] == pytest.approx(0.5)  # linear, not logit
    assert field.GetRadianceSphericalHarmonicsDegreeAttr().Get() == 1
    coeffs = np.asarray(field.GetRadianceSphericalHarmonicsCoefficientsAttr().Get())
    # Per particle (1+1)^2 = 4 float3: DC, then f_rest channel-major: coefficient j of channel c is f_rest[3c + j].
    expected = [[0.1, 0.2, 0.3], [10, 13, 16], [11, 14, 17], [12, 15, 18]]
    np.testing.assert_allclose(coeffs, expected, rtol=1e-6)
    color = np.asarray(field.GetPrim().GetAttribute("primvars:displayColor").Get())[0]
    np.testing.assert_allclose(color, np.clip(0.5 + SH_C0 * np.array([0.1, 0.2, 0.3]), 0, 1), rtol=1e-6)
    # Extent: (w,x,y,z) = (.5,.5,-.5,.5) gives R = [[0,-1,0],[0,0,-1],[1,0,0]] (each entry from the standard
    # quaternion-to-matrix formula by hand, e.g. R00 = 1 - 2(y^2 + z^2) = 0, R01 = 2(xy - wz) = -1), so the
    # kernel's local axes (x, y, z) point along world (z, -x, -y) and the 3-sigma half-widths are 3 |R| s.
    r = np.array([[0, -1, 0], [0, 0, -1], [1, 0, 0]], dtype=float)
    half = 3 * np.abs(r) @ np.array([0.5, 0.25, 2.0])
    extent = np.asarray(field.GetExtentAttr().Get())
    np.testing.assert_allclose(extent, [np.array([1, 2, 3]) - half, np.array([1, 2, 3]) + half], rtol=1e-6)
    assert not [i for i in validate_stage(stage) if i.severity == "Error"]


def test_extent_contains_every_kernel_support() -> None:
    g = random_gaussians(500)
    lo, hi = gaussians_extent(g)
    rng = np.random.default_rng(1)
    for i in range(0, 500, 50):  # points on each 3-sigma ellipsoid lie inside the extent
        u = rng.standard_normal((64, 3))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        w, x, y, z = g.quats_wxyz[i].astype(float)
        rot = np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
            ]
        )
        points = g.means[i] + (3 * u * g.scales[i]) @ rot.T
        assert (points >= lo - 1e-6).all() and (points <= hi + 1e-6).all()


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_ply_usd_ply_round_trip_float32(tmp_path: Path, degree: int) -> None:
    original = random_gaussians(300, degree=degree, seed=degree)
    write_gaussians(tmp_path / "a.ply", original)
    first = read_gaussians(tmp_path / "a.ply")
    write_gaussians_usd(tmp_path / "a.usdc", first)
    back = read_gaussians_usd(tmp_path / "a.usdc")
    write_gaussians(tmp_path / "b.ply", back)
    second = read_gaussians(tmp_path / "b.ply")
    for name in ("means", "quats_wxyz", "scales", "opacities", "sh"):
        np.testing.assert_array_equal(getattr(back, name), getattr(first, name))  # USD stores float32 exactly
        np.testing.assert_allclose(getattr(second, name), getattr(first, name), rtol=2e-6, atol=2e-7)


def test_read_follows_schema_fallbacks(tmp_path: Path) -> None:
    """Missing orientations/scales/opacities/SH take the schema's documented defaults."""
    stage = Usd.Stage.CreateNew(str(tmp_path / "bare.usda"))
    field = UsdVol.ParticleField3DGaussianSplat.Define(stage, "/G")
    field.CreatePositionsAttr().Set([(0, 0, 0), (1, 0, 0)])
    field.CreateScalesAttr().Set([(0.1, 0.1, 0.1)])  # too short: ignored, as the schema says
    stage.GetRootLayer().Save()
    g = read_gaussians_usd(tmp_path / "bare.usda", "/G")
    np.testing.assert_array_equal(g.quats_wxyz, [[1, 0, 0, 0], [1, 0, 0, 0]])
    np.testing.assert_array_equal(g.scales, np.ones((2, 3)))
    np.testing.assert_array_equal(g.opacities, [1, 1])
    np.testing.assert_allclose(g.colors, 0.5)  # DC (0.5, 0.5, 0.5)


def test_define_rejects_invalid_gaussians(tmp_path: Path) -> None:
    from splattwin.errors import InputError

    bad = random_gaussians(10)
    bad = Gaussians(
        bad.means, bad.quats_wxyz, bad.scales * np.r_[1, 1, 1, 1, 1, 1, 1, 1, 1, -1][:, None], bad.opacities, bad.sh
    )
    with pytest.raises(InputError, match="negative scale"):
        write_gaussians_usd(tmp_path / "bad.usdc", bad)
    assert not (tmp_path / "bad.usdc").exists()
    assert list(tmp_path.iterdir()) == []
