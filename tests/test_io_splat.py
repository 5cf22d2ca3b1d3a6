"""antimatter15 .splat reading and writing: hand-built records, exact bytes written, lossy round trips."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from splattwin.gaussians import SH_C0, Gaussians
from splattwin.io import read_gaussians, read_splat, write_gaussians, write_splat


def record(position, scale, rgba, rotation) -> bytes:
    return struct.pack("<3f3f4B4B", *position, *scale, *rgba, *rotation)


def test_hand_built_records(tmp_path: Path) -> None:
    path = tmp_path / "hand.splat"
    path.write_bytes(
        record((1.0, -2.0, 0.5), (0.1, 0.2, 0.3), (255, 0, 51, 255), (255, 128, 128, 128))
        + record((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (128, 128, 128, 0), (128, 0, 128, 128))
    )
    gaussians = read_splat(path)
    assert gaussians.sh.shape == (2, 1, 3)
    np.testing.assert_array_equal(gaussians.means, [[1.0, -2.0, 0.5], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(gaussians.scales, [[0.1, 0.2, 0.3], [1.0, 1.0, 1.0]], rtol=1e-7)
    np.testing.assert_allclose(gaussians.opacities, [1.0, 0.0], atol=0)
    # rgb = byte / 255, sh0 = (rgb - 0.5) / C0
    expected_sh0 = (np.array([[255, 0, 51], [128, 128, 128]]) / 255 - 0.5) / SH_C0
    np.testing.assert_allclose(gaussians.sh[:, 0], expected_sh0, rtol=1e-6, atol=1e-7)
    # (255-128)/128 on w alone normalises to w = 1; (0-128)/128 on x alone to x = -1.
    np.testing.assert_allclose(gaussians.quats_wxyz, [[1, 0, 0, 0], [0, -1, 0, 0]], atol=1e-7)


def test_written_bytes(tmp_path: Path) -> None:
    gaussians = Gaussians(
        means=[[1.0, 2.0, 3.0]],
        quats_wxyz=[[0.0, 0.0, 0.0, -2.0]],
        scales=[[0.5, 0.25, 4.0]],
        opacities=[0.2],
        sh=[[[0.0, 1.0, -10.0], [5.0, 5.0, 5.0], [5.0, 5.0, 5.0], [5.0, 5.0, 5.0]]],
    )
    write_splat(tmp_path / "one.splat", gaussians)
    data = (tmp_path / "one.splat").read_bytes()
    assert len(data) == 32
    assert struct.unpack("<3f3f", data[:24]) == (1.0, 2.0, 3.0, 0.5, 0.25, 4.0)
    red, green = 127.5, (0.5 + SH_C0) * 255  # sh0 = 0 -> 0.5; sh0 = 1 -> 0.5 + C0; sh0 = -10 -> clipped to 0
    assert tuple(data[24:28]) == (round(red), round(green), 0, 51)  # opacity 0.2 * 255 = 51
    assert tuple(data[28:32]) == (128, 128, 128, 0)  # unit q = (0, 0, 0, -1): -1 * 128 + 128 = 0


def random_gaussians(num: int, degree: int, seed: int) -> Gaussians:
    """Random Gaussians whose DC colour lies inside [0, 1] (so .splat only rounds it)."""
    rng = np.random.default_rng(seed)
    sh = rng.normal(0.0, 0.3, size=(num, (degree + 1) ** 2, 3))
    sh[:, 0] = (rng.uniform(0.0, 1.0, size=(num, 3)) - 0.5) / SH_C0
    quats = rng.normal(size=(num, 4))
    return Gaussians(
        means=rng.normal(size=(num, 3)),
        quats_wxyz=quats / np.linalg.norm(quats, axis=1, keepdims=True),
        scales=np.exp(rng.normal(-4.0, 1.0, size=(num, 3))),
        opacities=rng.uniform(0.0, 1.0, size=num),
        sh=sh,
    )


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_round_trip(tmp_path: Path, degree: int) -> None:
    original = random_gaussians(2000, degree, seed=degree)
    write_gaussians(tmp_path / "scene.splat", original)
    back = read_gaussians(tmp_path / "scene.splat")
    assert back.sh_degree == 0  # higher bands are dropped
    np.testing.assert_array_equal(back.means, original.means)  # float32 stored as is
    np.testing.assert_array_equal(back.scales, original.scales)
    # Bytes round to the nearest of 255 steps: error <= 0.5/255 in opacity and colour, 0.5/255/C0 in sh0.
    assert np.abs(back.opacities - original.opacities).max() <= 0.5 / 255 + 1e-6
    assert np.abs(back.sh[:, 0] - original.sh[:, 0]).max() <= 0.5 / 255 / SH_C0 + 1e-5
    # Each quaternion component is rounded to 1/128 steps (error <= 1/256, or along q when clipped at 255), so
    # the perpendicular error is <= |d| <= 2/256 and 1 - |q.q'| <= (1/128)^2 / 2.
    dots = np.abs(np.sum(back.quats_wxyz.astype(np.float64) * original.quats_wxyz, axis=1))
    assert (1 - dots).max() <= (1 / 128) ** 2 / 2 + 1e-6
