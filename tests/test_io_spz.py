"""SPZ reading and writing: a hand-encoded file (decoded from the format's formulas) and lossy round trips."""

from __future__ import annotations

import gzip
import math
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians
from splattwin.io import read_gaussians, read_spz, write_gaussians, write_spz

NGSP_MAGIC = 0x5053474E  # "NGSP"
SQRT1_2 = 1 / math.sqrt(2)


def int24(value: int) -> bytes:
    return (value & 0xFFFFFF).to_bytes(3, "little")


def test_hand_encoded_file(tmp_path: Path) -> None:
    # Two Gaussians, SH degree 1, version 3, 12 fractional bits, laid out as in nianticlabs/spz load-spz.cc:
    # header, then positions | alphas | colours | scales | rotations | sh, each for all points.
    header = struct.pack("<IIIBBBB", NGSP_MAGIC, 3, 2, 1, 12, 0, 0)
    positions = int24(4096) + int24(-2048) + int24(1) + int24(0) + int24(0) + int24(-(1 << 23))
    alphas = bytes([255, 51])
    colours = bytes([0, 255, 128, 166, 128, 128])
    scales = bytes([160, 144, 176, 0, 0, 255])
    # Smallest three: 2 bits index of the largest component (x, y, z, w order), then 10 bits per other
    # component from w down, 9-bit magnitude of c/sqrt(1/2) * 511 and a sign bit; the largest is implied.
    rotation_w_only = (3 << 30).to_bytes(4, "little")  # largest = w, others 0 -> (1, 0, 0, 0)
    rotation_x_largest = (0 << 30 | 0 << 20 | (1 << 9 | 0) << 10 | 361).to_bytes(4, "little")  # w, -z, y
    rotations = rotation_w_only + rotation_x_largest
    sh_first = bytes([128, 192, 64, 0, 255, 128, 160, 96, 128])  # 3 coefficients x 3 channels, channel fastest
    sh_second = bytes([128] * 9)
    path = tmp_path / "hand.spz"
    payload = header + positions + alphas + colours + scales + rotations + sh_first + sh_second
    path.write_bytes(gzip.compress(payload))

    gaussians = read_spz(path)
    np.testing.assert_allclose(gaussians.means, [[1.0, -0.5, 1 / 4096], [0.0, 0.0, -2048.0]], atol=1e-7)
    np.testing.assert_allclose(gaussians.opacities, [1 - 1e-6, 0.2], atol=2e-6)  # 255 decodes just below 1
    expected_sh0 = (np.array([[0, 255, 128], [166, 128, 128]]) / 255 - 0.5) / 0.15  # byte = sh0*0.15*255 + 127.5
    np.testing.assert_allclose(gaussians.sh[:, 0], expected_sh0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gaussians.scales, np.exp([[0.0, -1.0, 1.0], [-10.0, -10.0, 255 / 16 - 10]]), rtol=1e-5)
    w = SQRT1_2 * 361 / 511
    x = math.sqrt(1 - w * w)
    np.testing.assert_allclose(gaussians.quats_wxyz, [[1, 0, 0, 0], [w, x, 0.0, 0.0]], atol=1e-6)
    expected_sh1 = (np.array(list(sh_first), dtype=np.float64).reshape(3, 3) - 128) / 128
    np.testing.assert_allclose(gaussians.sh[0, 1:], expected_sh1, atol=1e-7)
    np.testing.assert_array_equal(gaussians.sh[1, 1:], 0.0)


def random_gaussians(num: int, degree: int, seed: int) -> Gaussians:
    """Random Gaussians inside SPZ's ranges (higher SH in [-1, 0.99], log scales in [-10, 5.9])."""
    rng = np.random.default_rng(seed)
    sh = rng.uniform(-0.9, 0.9, size=(num, (degree + 1) ** 2, 3))
    sh[:, 0] = rng.uniform(-3.0, 3.0, size=(num, 3))
    quats = rng.normal(size=(num, 4))
    return Gaussians(
        means=rng.uniform(-50.0, 50.0, size=(num, 3)),
        quats_wxyz=quats / np.linalg.norm(quats, axis=1, keepdims=True),
        scales=np.exp(rng.uniform(-9.0, 5.0, size=(num, 3))),
        opacities=rng.uniform(0.0, 1.0, size=num),
        sh=sh,
    )


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_round_trip_within_quantisation(tmp_path: Path, degree: int) -> None:
    original = random_gaussians(2000, degree, seed=degree)
    write_gaussians(tmp_path / "scene.spz", original)
    back = read_gaussians(tmp_path / "scene.spz")
    assert back.sh_degree == degree and len(back) == len(original)
    # Bounds from SPZ's quantisation (half a step each), plus float32 rounding:
    # positions 2^-12 m steps; log scales 1/16 steps; opacity 1/255 steps (decoded inside [1e-6, 1 - 1e-6]);
    # DC colour 1/(0.15 * 255) steps; higher SH 1/128 steps.
    position_error = np.abs(back.means - original.means).max()
    assert position_error <= 2.0**-13 + 1e-5
    assert np.abs(np.log(back.scales) - np.log(original.scales)).max() <= 1 / 32 + 1e-5
    assert np.abs(back.opacities - original.opacities).max() <= 0.5 / 255 + 1e-6
    assert np.abs(back.sh[:, 0] - original.sh[:, 0]).max() <= 0.5 / (0.15 * 255) + 1e-6
    assert np.abs(back.sh[:, 1:] - original.sh[:, 1:]).max(initial=0.0) <= 1 / 256 + 1e-6
    # Smallest-three rotations: each stored component within e = sqrt(1/2)/511/2, the implied largest within 3e
    # (it is >= 1/2), so |q - q'|^2 <= 12 e^2 and 1 - |q.q'| = |q - q'|^2 / 2 <= 6 e^2.
    half_step = SQRT1_2 / 511 / 2
    dots = np.abs(np.sum(back.quats_wxyz.astype(np.float64) * original.quats_wxyz, axis=1))
    assert (1 - dots).max() <= 6 * half_step**2 + 1e-6


def test_position_beyond_fixed_point_range_is_refused(tmp_path: Path) -> None:
    gaussians = random_gaussians(10, 0, seed=1)
    gaussians.means[3, 1] = 3000.0  # 12 fractional bits reach +-2048 m
    with pytest.raises(InputError, match="2048"):
        write_spz(tmp_path / "far.spz", gaussians)
    assert not list(tmp_path.iterdir())
    write_spz(tmp_path / "far.spz", gaussians, fractional_bits=10)  # +-8192 m: accepted
    np.testing.assert_allclose(read_spz(tmp_path / "far.spz").means[3, 1], 3000.0, atol=2.0**-11)


def test_values_outside_the_range_warn(tmp_path: Path) -> None:
    gaussians = random_gaussians(10, 1, seed=2)
    gaussians.sh[0, 2, 1] = 1.5
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_spz(tmp_path / "clip.spz", gaussians)
    assert any("higher SH coefficients" in str(w.message) and "clipped" in str(w.message) for w in caught)
    assert read_spz(tmp_path / "clip.spz").sh[0, 2, 1] == pytest.approx(127 / 128)
