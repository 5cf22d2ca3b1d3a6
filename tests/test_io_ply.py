"""3DGS PLY reading and writing: hand-built files, a second implementation (gsply), variants and round trips."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import gsply
import numpy as np
import pytest

from splattwin.gaussians import SH_C0, Gaussians
from splattwin.io import read_gaussians, read_ply, write_gaussians, write_ply

INRIA_SH0 = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity"]
INRIA_SH0 += ["scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]

# Two hand-chosen vertices in the INRIA layout (degree 0), with the values a reader must produce.
VERTEX_A = dict(x=1.0, y=-2.0, z=3.5, nx=0.0, ny=0.0, nz=0.0, f_dc_0=0.25, f_dc_1=-0.5, f_dc_2=1.0)
VERTEX_A |= dict(opacity=0.0, scale_0=math.log(0.5), scale_1=math.log(2.0), scale_2=0.0)
VERTEX_A |= dict(rot_0=0.0, rot_1=1.0, rot_2=0.0, rot_3=0.0)
VERTEX_B = dict(x=0.0, y=0.0, z=-1.0, nx=0.3, ny=0.0, nz=0.0, f_dc_0=0.0, f_dc_1=0.0, f_dc_2=0.0)
VERTEX_B |= dict(opacity=math.log(3.0), scale_0=math.log(0.01), scale_1=math.log(0.01), scale_2=math.log(0.02))
VERTEX_B |= dict(rot_0=2.0, rot_1=0.0, rot_2=0.0, rot_3=0.0)
EXPECTED_MEANS = [[1.0, -2.0, 3.5], [0.0, 0.0, -1.0]]
EXPECTED_SCALES = [[0.5, 2.0, 1.0], [0.01, 0.01, 0.02]]
EXPECTED_OPACITIES = [0.5, 0.75]  # sigmoid(0) = 1/2, sigmoid(ln 3) = 3/(3+1)
EXPECTED_QUATS = [[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]  # (2,0,0,0) normalised
EXPECTED_SH0 = [[0.25, -0.5, 1.0], [0.0, 0.0, 0.0]]


def ply_bytes(properties: list[tuple[str, str]], rows: list[list[float]], fmt: str = "binary_little_endian") -> bytes:
    """A PLY file built by hand: ``properties`` as (PLY type, name), ``rows`` the vertex values in that order."""
    header = ["ply", f"format {fmt} 1.0", "comment made by hand", f"element vertex {len(rows)}"]
    header += [f"property {ply_type} {name}" for ply_type, name in properties] + ["end_header"]
    head = ("\n".join(header) + "\n").encode("ascii")
    if fmt == "ascii":
        return head + "".join(" ".join(repr(v) for v in row) + "\n" for row in rows).encode("ascii")
    codes = {"float": "f", "double": "d", "uchar": "B", "int": "i", "short": "h", "ushort": "H"}
    row_format = ("<" if fmt == "binary_little_endian" else ">") + "".join(codes[t] for t, _ in properties)
    return head + b"".join(struct.pack(row_format, *row) for row in rows)


def hand_file(tmp_path: Path, fmt: str = "binary_little_endian") -> Path:
    properties = [("float", name) for name in INRIA_SH0]
    rows = [[vertex[name] for name in INRIA_SH0] for vertex in (VERTEX_A, VERTEX_B)]
    path = tmp_path / "hand.ply"
    path.write_bytes(ply_bytes(properties, rows, fmt))
    return path


@pytest.mark.parametrize("fmt", ["binary_little_endian", "binary_big_endian", "ascii"])
def test_hand_built_degree0(tmp_path: Path, fmt: str) -> None:
    gaussians = read_ply(hand_file(tmp_path, fmt))
    assert len(gaussians) == 2 and gaussians.sh.shape == (2, 1, 3)
    np.testing.assert_allclose(gaussians.means, EXPECTED_MEANS, rtol=0, atol=0)
    np.testing.assert_allclose(gaussians.scales, EXPECTED_SCALES, rtol=1e-6)
    np.testing.assert_allclose(gaussians.opacities, EXPECTED_OPACITIES, rtol=1e-6)
    np.testing.assert_allclose(gaussians.quats_wxyz, EXPECTED_QUATS, atol=1e-7)
    np.testing.assert_allclose(gaussians.sh[:, 0, :], EXPECTED_SH0, atol=0)
    assert gaussians.means.dtype == np.float32


def test_hand_built_degree3_rest_is_channel_major(tmp_path: Path) -> None:
    rest_names = [f"f_rest_{i}" for i in range(45)]
    names = INRIA_SH0[:9] + rest_names + INRIA_SH0[9:]
    vertex = VERTEX_A | {name: 100.0 + i for i, name in enumerate(rest_names)}  # f_rest_i = 100 + i
    path = tmp_path / "sh3.ply"
    path.write_bytes(ply_bytes([("float", n) for n in names], [[vertex[n] for n in names]]))

    sh = read_ply(path).sh
    assert sh.shape == (1, 16, 3)
    np.testing.assert_array_equal(sh[0, 0], [0.25, -0.5, 1.0])
    # Spot checks written out: f_rest_0 is red coefficient 1, f_rest_15 green coefficient 1, f_rest_44 blue 15.
    assert sh[0, 1, 0] == 100.0 and sh[0, 1, 1] == 115.0 and sh[0, 1, 2] == 130.0
    assert sh[0, 2, 0] == 101.0 and sh[0, 15, 0] == 114.0 and sh[0, 15, 2] == 144.0
    for coeff in range(1, 16):
        for channel in range(3):
            assert sh[0, coeff, channel] == 100.0 + channel * 15 + (coeff - 1), (coeff, channel)


def test_any_order_types_extra_properties_and_other_elements(tmp_path: Path) -> None:
    # Shuffled properties, double/int/uchar types, an extra property, a fixed-size element before `vertex` and a
    # list element after it, comment and obj_info lines.
    order = ["rot_3", "opacity", "x", "confidence", "f_dc_2", "scale_1", "rot_0", "y", "f_dc_0", "z"]
    order += ["scale_0", "rot_1", "f_dc_1", "scale_2", "rot_2"]
    types = {"x": "double", "y": "double", "z": "int", "confidence": "uchar", "opacity": "double"}
    vertex = VERTEX_A | {"z": 3, "confidence": 7}
    codes = {"float": "f", "double": "d", "int": "i", "uchar": "B"}
    body = struct.pack("<" + "".join(codes[types.get(n, "float")] for n in order), *(vertex[n] for n in order))
    header = ["ply", "format binary_little_endian 1.0", "obj_info scanner 1", "element camera 2", "property float fx"]
    header += ["property short id", "element vertex 1"]
    header += [f"property {types.get(n, 'float')} {n}" for n in order]
    header += ["comment faces follow", "element face 1", "property list uchar int vertex_indices", "end_header"]
    camera = struct.pack("<fh", 500.0, 1) + struct.pack("<fh", 600.0, 2)
    face = struct.pack("<B3i", 3, 0, 0, 0)
    path = tmp_path / "mixed.ply"
    path.write_bytes(("\n".join(header) + "\n").encode() + camera + body + face)

    gaussians = read_ply(path)
    np.testing.assert_array_equal(gaussians.means, [[1.0, -2.0, 3.0]])
    np.testing.assert_allclose(gaussians.scales, [EXPECTED_SCALES[0]], rtol=1e-6)
    np.testing.assert_allclose(gaussians.opacities, [0.5], rtol=1e-6)
    np.testing.assert_array_equal(gaussians.quats_wxyz, [EXPECTED_QUATS[0]])
    np.testing.assert_array_equal(gaussians.sh[:, 0], [EXPECTED_SH0[0]])


def test_colour_ply_gets_dc_from_rgb(tmp_path: Path) -> None:
    names = ["x", "y", "z", "red", "green", "blue", "opacity", "scale_0", "scale_1", "scale_2"]
    names += ["rot_0", "rot_1", "rot_2", "rot_3"]
    types = ["float"] * 3 + ["uchar"] * 3 + ["float"] * 8
    row = [0.0, 0.0, 0.0, 255, 0, 51, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    path = tmp_path / "colour.ply"
    path.write_bytes(ply_bytes(list(zip(types, names, strict=True)), [row]))
    sh0 = read_ply(path).sh[0, 0]
    # rgb = (1, 0, 0.2): sh0 = (rgb - 0.5) / C0
    np.testing.assert_allclose(sh0, [0.5 / SH_C0, -0.5 / SH_C0, -0.3 / SH_C0], rtol=1e-6)


def random_gsdata(num: int, degree: int, seed: int) -> gsply.GSData:
    """Random Gaussians in PLY conventions (log scales, logit opacities, raw quaternions) for gsply."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    return gsply.GSData.from_arrays(
        means=rng.normal(size=(num, 3)).astype(f32),
        scales=rng.normal(-4.0, 1.0, size=(num, 3)).astype(f32),
        quats=rng.normal(size=(num, 4)).astype(f32),
        opacities=rng.normal(0.0, 2.0, size=num).astype(f32),
        sh0=rng.normal(size=(num, 3)).astype(f32),
        shN=rng.normal(0.0, 0.3, size=(num, (degree + 1) ** 2 - 1, 3)).astype(f32) if degree else None,
        format="ply",
    )


@pytest.mark.parametrize("degree", [0, 3])
def test_matches_gsply_reader(tmp_path: Path, degree: int) -> None:
    path = tmp_path / "random.ply"
    gsply.plywrite(path, random_gsdata(3000, degree, seed=degree))
    reference = gsply.plyread(path)
    ours = read_ply(path)

    np.testing.assert_array_equal(ours.means, reference.means)
    np.testing.assert_allclose(ours.scales, np.exp(reference.scales.astype(np.float64)), rtol=2e-7)
    np.testing.assert_allclose(ours.opacities, 1 / (1 + np.exp(-reference.opacities.astype(np.float64))), atol=1e-7)
    quats = reference.quats.astype(np.float64)
    np.testing.assert_allclose(ours.quats_wxyz, quats / np.linalg.norm(quats, axis=1, keepdims=True), atol=2e-7)
    np.testing.assert_array_equal(ours.sh[:, 0], reference.sh0)
    if degree:
        np.testing.assert_array_equal(ours.sh[:, 1:], reference.shN)


def test_written_file_read_by_gsply(tmp_path: Path) -> None:
    gaussians = read_ply(_gsply_file(tmp_path, degree=2))
    path = tmp_path / "ours.ply"
    write_ply(path, gaussians)
    reference = gsply.plyread(path)
    np.testing.assert_array_equal(reference.means, gaussians.means)
    np.testing.assert_allclose(np.exp(reference.scales), gaussians.scales, rtol=1e-6)
    np.testing.assert_allclose(1 / (1 + np.exp(-reference.opacities)), gaussians.opacities, atol=1e-7)
    np.testing.assert_allclose(reference.quats, gaussians.quats_wxyz, atol=1e-7)
    np.testing.assert_array_equal(reference.shN, gaussians.sh[:, 1:])
    header = path.read_bytes()[:400].decode("ascii", errors="replace")
    assert "format binary_little_endian 1.0" in header and "property float nx" in header


def _gsply_file(tmp_path: Path, degree: int) -> Path:
    path = tmp_path / f"gsply_{degree}.ply"
    gsply.plywrite(path, random_gsdata(500, degree, seed=10 + degree))
    return path


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_round_trip_file_gaussians_file(tmp_path: Path, degree: int) -> None:
    first = read_gaussians(_gsply_file(tmp_path, degree))
    write_gaussians(tmp_path / "again.ply", first)
    second = read_gaussians(tmp_path / "again.ply")
    assert second.sh_degree == degree
    np.testing.assert_array_equal(second.means, first.means)
    np.testing.assert_array_equal(second.sh, first.sh)
    np.testing.assert_allclose(second.scales, first.scales, rtol=1e-6)  # log in float64, stored as float32
    np.testing.assert_allclose(second.opacities, first.opacities, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(second.quats_wxyz, first.quats_wxyz, atol=1.5e-7)


def test_round_trip_keeps_extreme_opacities(tmp_path: Path) -> None:
    gaussians = Gaussians(
        means=np.zeros((3, 3)),
        quats_wxyz=[[1, 0, 0, 0]] * 3,
        scales=np.full((3, 3), 1e-3),
        opacities=[0.0, 1.0, 1e-30],
        sh=np.zeros((3, 1, 3)),
    )
    write_ply(tmp_path / "edges.ply", gaussians)
    back = read_ply(tmp_path / "edges.ply")
    # 1 is stored as the largest float32 below 1 (finite logit), 0 and 1e-30 decode to ~0.
    np.testing.assert_allclose(back.opacities, [0.0, 1.0, 0.0], atol=6e-8)


PLAYCANVAS_CHUNK = 256  # Gaussians per chunk; each chunk stores its own min/max of positions, log scales, colours
PLAYCANVAS_BITS = np.array([2047, 1023, 2047])  # 11/10/11-bit unsigned levels of packed_position and packed_scale
CHUNK_PROPERTIES = [f"{end}_{axis}" for end in ("min", "max") for axis in "xyz"]
CHUNK_PROPERTIES += [f"{end}_scale_{axis}" for end in ("min", "max") for axis in "xyz"]
CHUNK_PROPERTIES += [f"{end}_{channel}" for end in ("min", "max") for channel in "rgb"]
PACKED_PROPERTIES = ["packed_position", "packed_rotation", "packed_scale", "packed_color"]


def chunk_half_steps(values: np.ndarray, low: float = -np.inf, high: float = np.inf) -> np.ndarray:
    """Half a quantisation step of each value [N, 3]: its chunk's range over 11/10/11 bits, halved.

    ``low``/``high`` clip the chunk bounds as the writer does (PlayCanvas clamps log scales to [-20, 20]).
    """
    steps = np.empty_like(values, dtype=np.float64)
    for start in range(0, len(values), PLAYCANVAS_CHUNK):
        chunk = np.clip(values[start : start + PLAYCANVAS_CHUNK].astype(np.float64), low, high)
        steps[start : start + PLAYCANVAS_CHUNK] = (chunk.max(axis=0) - chunk.min(axis=0)) / PLAYCANVAS_BITS / 2
    return steps


def assert_quats_within_smallest_three(decoded: np.ndarray, original: np.ndarray) -> None:
    """Quaternions [N, 4] wxyz after PlayCanvas's smallest-three code: 3 components of 10 bits over +-1/sqrt(2).

    The three stored components (all but the largest in magnitude, sign fixed so it is positive) are off by at most
    half a step, sqrt(2)/1023/2. The rebuilt largest m = sqrt(1 - a^2 - b^2 - c^2) moves by |a da + b db + c dc| / m
    <= (|a| + |b| + |c|) half-steps / m <= 3 half-steps (m >= 1/2 and |a| + |b| + |c| <= sqrt(3 (1 - m^2))).
    """
    unit = original.astype(np.float64) / np.linalg.norm(original, axis=1, keepdims=True)
    largest = np.abs(unit).argmax(axis=1)
    unit *= np.sign(unit[np.arange(len(unit)), largest])[:, None]
    half_step = np.sqrt(2) / 1023 / 2
    error = np.abs(decoded.astype(np.float64) - unit)
    stored = np.ones_like(error, dtype=bool)
    stored[np.arange(len(unit)), largest] = False
    assert error[stored].max() <= half_step + 1e-6, error[stored].max()
    assert error.max() <= 3 * half_step + 1e-6, error.max()


def test_playcanvas_compressed_ply(tmp_path: Path) -> None:
    """gsply writes (from a GSData in PLY conventions), we read; every field within the codec's quantisation."""
    original = random_gsdata(600, 1, seed=5)  # three chunks, the last one partial
    gsply.plywrite(tmp_path / "scene.ply", original, compressed=True)  # writes scene.compressed.ply
    gaussians = read_ply(tmp_path / "scene.compressed.ply")
    # Quantisation of the PlayCanvas codec, per 256-Gaussian chunk: positions and log scales 11/10/11 bits of the
    # chunk's range, quaternions smallest-three 10 bits, opacity 8 bits, higher SH 8 bits with a step of 1/32.
    assert np.all(np.abs(gaussians.means - original.means) <= chunk_half_steps(original.means) + 1e-6)
    log_scale_error = np.abs(np.log(gaussians.scales.astype(np.float64)) - original.scales)
    assert np.all(log_scale_error <= chunk_half_steps(original.scales, -20.0, 20.0) + 1e-5), log_scale_error.max()
    assert_quats_within_smallest_three(gaussians.quats_wxyz, original.quats)
    expected_opacities = 1 / (1 + np.exp(-original.opacities.astype(np.float64)))
    np.testing.assert_allclose(gaussians.opacities, expected_opacities, atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(gaussians.sh[:, 1:], original.shN, atol=1 / 64 + 1e-6)


def test_playcanvas_compressed_ply_built_by_hand(tmp_path: Path) -> None:
    """A one-chunk compressed PLY packed by hand from the PlayCanvas layout; no gsply writer involved.

    Chunk: positions in [0, 1]^3, log scales in [ln 0.01, ln 0.04], colours in [0, 1]. packed_position and
    packed_scale are 11/10/11 bits (x in bits 21-31), packed_rotation is 2 bits of the largest component's index
    (0 = w, the PLY's rot_0) then three 10-bit components over +-1/sqrt(2), packed_color is r, g, b, opacity bytes.
    """
    chunk = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0] + [math.log(0.01)] * 3 + [math.log(0.04)] * 3 + [0.0] * 3 + [1.0] * 3

    def pack_111011(x: int, y: int, z: int) -> int:
        return x << 21 | y << 11 | z

    def component(level: int) -> float:  # a 10-bit quaternion component, spread over +-1/sqrt(2)
        return (level / 1023 - 0.5) * math.sqrt(2)

    def colour(red: int, green: int, blue: int, opacity: int) -> int:
        return red << 24 | green << 16 | blue << 8 | opacity

    rows = [
        # Scales at the chunk's ends and one level past the middle of x: log-linear, so 0.01 * 4^(1024/2047).
        (pack_111011(2047, 0, 1024), 1 << 30 | 767 << 20 | 255 << 10 | 511, pack_111011(1024, 1023, 0), 255),
        (pack_111011(0, 1023, 2047), 0 << 30 | 255 << 20 | 767 << 10 | 600, pack_111011(0, 0, 2047), 51),
    ]
    head = "ply\nformat binary_little_endian 1.0\nelement chunk 1\n"
    head += "".join(f"property float {name}\n" for name in CHUNK_PROPERTIES)
    head += "element vertex 2\n" + "".join(f"property uint {name}\n" for name in PACKED_PROPERTIES)
    body = struct.pack("<18f", *chunk)
    for position, rotation, scale, opacity in rows:
        body += struct.pack("<4I", position, rotation, scale, colour(255, 0, 128, opacity))
    path = tmp_path / "hand.ply"
    path.write_bytes((head + "end_header\n").encode("ascii") + body)
    g = read_ply(path)

    np.testing.assert_allclose(g.means, [[1.0, 0.0, 1024 / 2047], [0.0, 1.0, 1.0]], atol=1e-6)
    middle = 0.01 * 4 ** (1024 / 2047)  # ~0.02001 (a linear lerp of 0.01..0.04 would give ~0.025)
    np.testing.assert_allclose(g.scales, [[middle, 0.04, 0.01], [0.01, 0.01, 0.04]], rtol=1e-5)
    a, b, c = component(767), component(255), component(511)
    first = [a, math.sqrt(1 - a * a - b * b - c * c), b, c]  # index 1: x is the rebuilt one
    a, b, c = component(255), component(767), component(600)
    second = [math.sqrt(1 - a * a - b * b - c * c), a, b, c]  # index 0: w is the rebuilt one
    np.testing.assert_allclose(g.quats_wxyz, [first, second], atol=1e-5)
    expected_sh0 = (np.array([1.0, 0.0, 128 / 255]) - 0.5) / SH_C0  # colour = 0.5 + SH_C0 * DC term
    np.testing.assert_allclose(g.sh[:, 0], [expected_sh0, expected_sh0], atol=1e-5)
    np.testing.assert_allclose(g.opacities, [1.0, 0.2], atol=1e-4)  # opacity byte / 255 (255 -> sigmoid(10))
