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

    gaussians = read_spz(path, frame="rdf")  # as stored: the decoding formulas alone
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
        write_spz(tmp_path / "clip.spz", gaussians, frame="rdf")  # RDF: stored with the sign it has here
    assert any("higher SH coefficients" in str(w.message) and "clipped" in str(w.message) for w in caught)
    assert read_spz(tmp_path / "clip.spz", frame="rdf").sh[0, 2, 1] == pytest.approx(127 / 128)


# --- Axes: RUB (the SPZ spec's, Niantic's library, splat-transform 2.x) vs RDF (a PLY's; splat-transform 3.x) ---

# One Gaussian, version 2 (rotations as 3 bytes x, y, z = byte / 127.5 - 1, w implied >= 0), SH degree 1.
# Stored values, picked to be exact in the format: position (0.25, 0.5, -1.125) m in 12 fractional bits,
# quaternion x = 0.2 (byte 153), y = 0.6 (204), z = -0.2 (102), w = sqrt(1 - 0.44); SH band 1 rows
# (coefficient-major, channel fastest) from bytes: coefficient 1 (basis ~ y) = (0.25, -0.5, 0.125),
# coefficient 2 (~ z) = (0.5, 0.25, -0.25), coefficient 3 (~ x) = (-0.125, 0.75, 0.5).
STORED_MEAN = np.array([0.25, 0.5, -1.125])
STORED_QUAT = np.array([math.sqrt(0.56), 0.2, 0.6, -0.2])
STORED_SH1 = np.array([[0.25, -0.5, 0.125], [0.5, 0.25, -0.25], [-0.125, 0.75, 0.5]])


def v2_file(path: Path) -> Path:
    header = struct.pack("<IIIBBBB", NGSP_MAGIC, 2, 1, 1, 12, 0, 0)
    positions = b"".join(int24(round(v * 4096)) for v in STORED_MEAN)
    sh = bytes(int(round(v * 128 + 128)) for v in STORED_SH1.ravel())
    payload = header + positions + bytes([204]) + bytes([128, 140, 100]) + bytes([144, 152, 136])
    payload += bytes([153, 204, 102]) + sh
    path.write_bytes(gzip.compress(payload))
    return path


def test_spz_rdf_is_read_as_stored(tmp_path: Path) -> None:
    g = read_spz(v2_file(tmp_path / "rdf.spz"), frame="rdf")
    np.testing.assert_allclose(g.means[0], STORED_MEAN, atol=1e-7)
    np.testing.assert_allclose(g.quats_wxyz[0], STORED_QUAT, atol=1e-6)
    np.testing.assert_allclose(g.sh[0, 1:], STORED_SH1, atol=1e-7)


def test_spz_rub_is_turned_half_a_turn_about_x(tmp_path: Path) -> None:
    # RUB -> RDF negates y and z. By hand: the mean (0.25, -0.5, 1.125); the quaternion (w, x, -y, -z) =
    # (sqrt(0.56), 0.2, -0.6, 0.2); band 1 basis functions ~ (y, z, x): coefficients 1 and 2 change sign, 3 not.
    g = read_spz(v2_file(tmp_path / "rub.spz"))  # the default is the spec's RUB
    np.testing.assert_allclose(g.means[0], [0.25, -0.5, 1.125], atol=1e-7)
    np.testing.assert_allclose(g.quats_wxyz[0], [math.sqrt(0.56), 0.2, -0.6, 0.2], atol=1e-6)
    np.testing.assert_allclose(g.sh[0, 1:], [[-0.25, 0.5, -0.125], [-0.5, -0.25, 0.25], [-0.125, 0.75, 0.5]])
    # The DC colour, scales and opacity do not depend on the axes.
    raw = read_spz(tmp_path / "rub.spz", frame="rdf")
    np.testing.assert_array_equal(g.sh[:, 0], raw.sh[:, 0])
    np.testing.assert_array_equal(g.scales, raw.scales)
    np.testing.assert_array_equal(g.opacities, raw.opacities)


def covariances(g: Gaussians) -> np.ndarray:
    w, x, y, z = (g.quats_wxyz.astype(np.float64) / np.linalg.norm(g.quats_wxyz, axis=1, keepdims=True)).T
    r = np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        1,
    )
    return r @ (g.scales.astype(np.float64)[:, :, None] ** 2 * np.swapaxes(r, 1, 2))


def test_spz_rub_writing_is_the_half_turn_of_every_attribute(tmp_path: Path) -> None:
    # Written as RUB and read back as stored (RDF), every attribute must be the PLY-space Gaussians turned by
    # F = diag(1, -1, -1): means F m, covariances F C F, SH such that the colour seen from F d is the original
    # colour seen from d (checked with the SH basis, degrees 1-3, and against the general SH rotation).
    from splattwin.geometry.sh_rotation import eval_sh_basis, fibonacci_sphere, rotate_sh

    flip = np.diag([1.0, -1.0, -1.0])
    original = random_gaussians(300, 3, seed=7)
    original.means[:] = np.clip(original.means, -40, 40)
    write_spz(tmp_path / "rub.spz", original)  # default frame: RUB
    stored = read_spz(tmp_path / "rub.spz", frame="rdf")
    np.testing.assert_allclose(stored.means, original.means @ flip, atol=2.0**-13 + 1e-5)
    # Quaternions (w, x, -y, -z), i.e. F R F, within the smallest-three bound of the round-trip test above.
    expected_quats = original.quats_wxyz.astype(np.float64) * [1, 1, -1, -1]
    dots = np.abs(np.sum(stored.quats_wxyz * expected_quats, axis=1))
    assert (1 - dots).max() <= 6 * (SQRT1_2 / 511 / 2) ** 2 + 1e-6
    # Hence covariances F C F (scales are within 3.2 % after SPZ's log-scale steps).
    scale2 = (original.scales.astype(np.float64) ** 2).max(axis=1)[:, None, None]
    assert (np.abs(covariances(stored) - flip @ covariances(original) @ flip) / scale2).max() <= 0.08
    directions = fibonacci_sphere(64)
    colour_before = np.einsum("dk,nkc->ndc", eval_sh_basis(directions, 3), original.sh.astype(np.float64))
    colour_after = np.einsum("dk,nkc->ndc", eval_sh_basis(directions @ flip, 3), stored.sh.astype(np.float64))
    np.testing.assert_allclose(colour_after, colour_before, atol=0.1)
    np.testing.assert_allclose(stored.sh[:, 1:], rotate_sh(original.sh, flip)[:, 1:], atol=1 / 256 + 1e-6)
    # Read with the default, the file gives the original back (within quantisation).
    back = read_spz(tmp_path / "rub.spz")
    np.testing.assert_allclose(back.means, original.means, atol=2.0**-13 + 1e-5)
    np.testing.assert_allclose(back.sh[:, 1:], original.sh[:, 1:], atol=1 / 256 + 1e-6)


def test_spz_unknown_frame_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--spz-frame.*rub, rdf.*'luf'"):
        read_spz(v2_file(tmp_path / "a.spz"), frame="luf")


def test_import_and_export_splat_take_the_spz_frame_and_say_which(tmp_path: Path, capsys) -> None:
    from splattwin.cli import main
    from splattwin.usd import open_twin, read_gaussians_prim

    source = v2_file(tmp_path / "capture.spz")
    stage = tmp_path / "twin.usda"
    assert main(["import-splat", str(source), "--stage", str(stage), "--prim", "/World/Scene/Splat"]) == 0
    out = capsys.readouterr().out
    assert "read as RUB (the default --spz-frame rub" in out and "needs --spz-frame rdf" in out
    args = ["import-splat", str(source), "--stage", str(stage), "--prim", "/World/Scene/Raw", "--spz-frame", "rdf"]
    assert main(args) == 0
    assert "read as RDF (--spz-frame rdf" in capsys.readouterr().out
    twin = open_twin(stage)
    rub = read_gaussians_prim(twin.stage.GetPrimAtPath("/World/Scene/Splat"))
    rdf = read_gaussians_prim(twin.stage.GetPrimAtPath("/World/Scene/Raw"))
    np.testing.assert_allclose(rub.means[0], [0.25, -0.5, 1.125], atol=1e-7)  # y and z negated, by hand
    np.testing.assert_allclose(rdf.means[0], STORED_MEAN, atol=1e-7)
    np.testing.assert_allclose(rub.quats_wxyz[0], [math.sqrt(0.56), 0.2, -0.6, 0.2], atol=1e-6)

    # Exported back with either frame, the file's stored values are what was imported in that frame.
    for frame in ("rub", "rdf"):
        out_file = tmp_path / f"out_{frame}.spz"
        assert main(["export-splat", str(stage), "/World/Scene/Splat", str(out_file), "--spz-frame", frame]) == 0
        assert f"SPZ axes {frame.upper()}" in capsys.readouterr().out
    np.testing.assert_allclose(read_spz(tmp_path / "out_rub.spz", frame="rdf").means[0], STORED_MEAN, atol=2e-4)
    np.testing.assert_allclose(read_spz(tmp_path / "out_rdf.spz", frame="rdf").means[0], rub.means[0], atol=2e-4)

    # The flag on another format is one error line, exit 2, nothing written.
    ply = tmp_path / "scene.ply"
    assert main(["export-splat", str(stage), "/World/Scene/Splat", str(ply), "--spz-frame", "rub"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --spz-frame: only applies to an .spz output")
    assert not ply.exists()


def test_cli_spz_frames_match_the_codec() -> None:
    from splattwin.cli.import_splat import SPZ_FRAMES as CLI_FRAMES
    from splattwin.io.spz import SPZ_FRAMES

    assert CLI_FRAMES == SPZ_FRAMES
