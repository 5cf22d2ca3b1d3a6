"""Bad input to the Gaussian readers and writers: an InputError naming the file and the problem, and no file
left behind by a failed write."""

from __future__ import annotations

import gzip
import math
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians
from splattwin.io import atomic_output, read_gaussians, write_gaussians

GAUSSIAN_PROPERTIES = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2"]
GAUSSIAN_PROPERTIES += ["rot_0", "rot_1", "rot_2", "rot_3"]
GOOD_ROW = [0.0, 0.0, 0.0, 0.1, 0.2, 0.3, 0.0, -3.0, -3.0, -3.0, 1.0, 0.0, 0.0, 0.0]


def header(*lines: str) -> bytes:
    return ("\n".join(["ply", *lines, "end_header"]) + "\n").encode("ascii")


def gaussian_header(count: int, names: list[str] = GAUSSIAN_PROPERTIES, fmt: str = "binary_little_endian") -> bytes:
    return header(f"format {fmt} 1.0", f"element vertex {count}", *(f"property float {n}" for n in names))


def rows(*values: list[float]) -> bytes:
    return b"".join(struct.pack(f"<{len(v)}f", *v) for v in values)


def with_value(index: int, value: float) -> list[float]:
    row = list(GOOD_ROW)
    row[index] = value
    return row


# (case, file content, a word the message must contain)
PLY_CASES = [
    ("bad_magic", b"PK\x03\x04 not a ply at all", "not a PLY"),
    ("no_end_header", b"ply\nformat binary_little_endian 1.0\nelement vertex 1\n" + rows(GOOD_ROW), "end_header"),
    ("bad_format_line", header("format binary_middle_endian 1.0", "element vertex 0"), "format"),
    ("format_missing", header("element vertex 0", "property float x"), "format"),
    ("bad_property_line", header("format ascii 1.0", "element vertex 1", "property float"), "property"),
    ("bad_property_type", header("format ascii 1.0", "element vertex 1", "property float128 x"), "property"),
    ("property_before_element", header("format ascii 1.0", "property float x"), "property"),
    ("bad_element_line", header("format ascii 1.0", "element vertex many"), "element"),
    ("unknown_header_line", header("format ascii 1.0", "vertices 3"), "unexpected"),
    ("non_ascii_header", b"ply\nformat ascii 1.0\ncomment caf\xc3\xa9\nend_header\n", "non-ASCII"),
    ("no_vertex_element", header("format ascii 1.0", "element face 0", "property float x"), "vertex"),
    (
        "point_cloud_missing_properties",
        header("format ascii 1.0", "element vertex 1", "property float x", "property float y", "property float z")
        + b"0 0 0\n",
        "missing required vertex properties: f_dc_0, f_dc_1, f_dc_2, opacity, scale_0",
    ),
    (
        "rgb_point_cloud",
        header(
            "format ascii 1.0",
            "element vertex 1",
            *(f"property float {n}" for n in "xyz"),
            *(f"property uchar {c}" for c in ("red", "green", "blue")),
        )
        + b"0 0 0 1 2 3\n",
        "rot_3",
    ),
    (
        "f_rest_count",
        gaussian_header(1, GAUSSIAN_PROPERTIES + [f"f_rest_{i}" for i in range(7)]) + rows(GOOD_ROW + [0.0] * 7),
        "7 f_rest",
    ),
    (
        "f_rest_numbering",
        gaussian_header(1, GAUSSIAN_PROPERTIES + [f"f_rest_{i}" for i in range(1, 10)]) + rows(GOOD_ROW + [0.0] * 9),
        "numbered",
    ),
    ("truncated_body", gaussian_header(3) + rows(GOOD_ROW, GOOD_ROW) + b"\0" * 20, "168 bytes"),
    ("truncated_ascii", gaussian_header(3, fmt="ascii") + b" ".join(b"%g" % v for v in GOOD_ROW) + b"\n", "truncated"),
    ("malformed_ascii", gaussian_header(1, fmt="ascii") + b"0 0 zero" + b" 0" * 11 + b"\n", "malformed"),
    ("vertex_list", header("format ascii 1.0", "element vertex 1", "property list uchar float x"), "list"),
    ("nan", gaussian_header(2) + rows(GOOD_ROW, with_value(1, math.nan)), "NaN"),
    ("inf_mean", gaussian_header(1) + rows(with_value(2, math.inf)), "Inf"),
    ("minus_inf_log_scale", gaussian_header(1) + rows(with_value(8, -math.inf)), "zero or negative scale"),
    ("zero_quaternion", gaussian_header(1) + rows(with_value(10, 0.0)), "quaternion"),
    ("no_vertices", gaussian_header(0), "no Gaussians"),
    (
        "corrupt_compressed",
        header(
            "format binary_little_endian 1.0",
            "element chunk 1",
            *(f"property float c{i}" for i in range(18)),
            "element vertex 256",
            *(f"property uint {n}" for n in ("packed_position", "packed_rotation", "packed_scale", "packed_color")),
        )
        + b"\0" * 100,
        "compressed",
    ),
]


def assert_names_file(error: pytest.ExceptionInfo[InputError], path: Path, word: str) -> None:
    message = str(error.value)
    assert str(path) in message, message
    assert word.lower() in message.lower(), message


@pytest.mark.parametrize(("case", "content", "word"), PLY_CASES, ids=[case[0] for case in PLY_CASES])
def test_bad_ply(tmp_path: Path, case: str, content: bytes, word: str) -> None:
    path = tmp_path / f"{case}.ply"
    path.write_bytes(content)
    with pytest.raises(InputError) as error:
        read_gaussians(path)
    assert_names_file(error, path, word)


def test_truncated_body_says_expected_and_present(tmp_path: Path) -> None:
    path = tmp_path / "cut.ply"
    path.write_bytes(gaussian_header(3) + rows(GOOD_ROW, GOOD_ROW) + b"\0" * 20)
    with pytest.raises(InputError) as error:
        read_gaussians(path)
    # 3 vertices x 14 float32 = 168 bytes declared; 2 x 56 + 20 = 132 present, 2 whole vertices.
    assert_names_file(error, path, "3 vertices")
    assert "132 bytes" in str(error.value) and "2 whole vertices" in str(error.value)


def test_missing_file(tmp_path: Path) -> None:
    for suffix in (".ply", ".spz", ".splat"):
        path = tmp_path / f"absent{suffix}"
        with pytest.raises(InputError) as error:
            read_gaussians(path)
        assert_names_file(error, path, "cannot be read")


SPZ_HEADER = struct.pack("<IIIBBBB", 0x5053474E, 3, 4, 0, 12, 0, 0)  # "NGSP", version 3, 4 points, degree 0


def valid_spz() -> bytes:
    positions, alphas, colours, scales = bytes(9 * 4), bytes([200] * 4), bytes([128] * 12), bytes([100] * 12)
    rotations = (3 << 30).to_bytes(4, "little") * 4  # smallest three, w largest: identity
    return gzip.compress(SPZ_HEADER + positions + alphas + colours + scales + rotations)


SPZ_CASES = [
    ("truncated", valid_spz()[:30], "SPZ"),
    ("garbage", b"hello, this is not compressed", "SPZ"),
    ("empty", b"", "SPZ"),
    ("short_payload", gzip.compress(SPZ_HEADER + bytes(20)), "SPZ"),
    ("wrong_magic", gzip.compress(b"\0" * 100), "SPZ"),
]


@pytest.mark.parametrize(("case", "content", "word"), SPZ_CASES, ids=[case[0] for case in SPZ_CASES])
def test_bad_spz(tmp_path: Path, case: str, content: bytes, word: str) -> None:
    path = tmp_path / f"{case}.spz"
    path.write_bytes(content)
    with pytest.raises(InputError) as error:
        read_gaussians(path)
    assert_names_file(error, path, word)


def test_valid_spz_fixture_reads(tmp_path: Path) -> None:
    # The bad SPZ cases above are cut from this file; it must itself be readable.
    (tmp_path / "ok.spz").write_bytes(valid_spz())
    assert len(read_gaussians(tmp_path / "ok.spz")) == 4


def splat(position=(0.0, 0.0, 0.0), scale=(0.1, 0.1, 0.1), rotation=(255, 128, 128, 128)) -> bytes:
    return struct.pack("<3f3f4B4B", *position, *scale, 100, 100, 100, 255, *rotation)


SPLAT_CASES = [
    ("empty", b"", "empty"),
    ("size", splat() * 2 + b"\0" * 5, "multiple of"),
    ("nan", splat() + splat(position=(0.0, math.nan, 0.0)), "NaN"),
    ("zero_scale", splat(scale=(0.1, 0.0, 0.1)), "zero or negative scale"),
    ("negative_scale", splat(scale=(-0.1, 0.1, 0.1)), "zero or negative scale"),
    ("zero_rotation", splat() + splat(rotation=(128, 128, 128, 128)), "zero quaternion"),
]


@pytest.mark.parametrize(("case", "content", "word"), SPLAT_CASES, ids=[case[0] for case in SPLAT_CASES])
def test_bad_splat(tmp_path: Path, case: str, content: bytes, word: str) -> None:
    path = tmp_path / f"{case}.splat"
    path.write_bytes(content)
    with pytest.raises(InputError) as error:
        read_gaussians(path)
    assert_names_file(error, path, word)


def some_gaussians(num: int = 4) -> Gaussians:
    return Gaussians(
        means=np.arange(num * 3).reshape(num, 3) * 0.1,
        quats_wxyz=np.tile([1.0, 0.0, 0.0, 0.0], (num, 1)),
        scales=np.full((num, 3), 0.01),
        opacities=np.full(num, 0.5),
        sh=np.zeros((num, 4, 3)),
    )


@pytest.mark.parametrize("name", ["scene.obj", "scene.ply.bak", "scene"])
def test_unsupported_suffix(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"ply\n")
    for action in (lambda: read_gaussians(path), lambda: write_gaussians(path, some_gaussians())):
        with pytest.raises(InputError) as error:
            action()
        assert_names_file(error, path, "supported: .ply, .spz, .splat")


@pytest.mark.parametrize("suffix", [".ply", ".spz", ".splat"])
@pytest.mark.parametrize(
    ("defect", "word"),
    [
        ("nan", "NaN"),
        ("zero_scale", "scale"),
        ("opacity", "opacity"),
        ("zero_quat", "quaternion"),
        ("empty", "no Gaussians"),
    ],
)
def test_invalid_gaussians_are_not_written(tmp_path: Path, suffix: str, defect: str, word: str) -> None:
    gaussians = some_gaussians()
    if defect == "nan":
        gaussians.sh[2, 1, 0] = np.nan
    elif defect == "zero_scale":
        gaussians.scales[1, 2] = 0.0
    elif defect == "opacity":
        gaussians.opacities[0] = 1.5
    elif defect == "zero_quat":
        gaussians.quats_wxyz[3] = 0.0
    else:
        gaussians = gaussians.subset(slice(0, 0))
    path = tmp_path / f"out{suffix}"
    with pytest.raises(InputError) as error:
        write_gaussians(path, gaussians)
    assert_names_file(error, path, "not written")
    assert word.lower() in str(error.value).lower()
    assert not list(tmp_path.iterdir())  # neither the destination nor a temporary file


@pytest.mark.parametrize("suffix", [".ply", ".spz", ".splat"])
def test_write_into_missing_folder(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / "missing" / f"out{suffix}"
    with pytest.raises(InputError) as error:
        write_gaussians(path, some_gaussians())
    assert_names_file(error, path, "does not exist")
    assert not (tmp_path / "missing").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores folder permissions")
def test_write_into_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(InputError) as error:
            write_gaussians(folder / "out.ply", some_gaussians())
        assert_names_file(error, folder / "out.ply", "cannot")
        assert not list(folder.iterdir())
    finally:
        folder.chmod(0o755)


def test_unwritable_folder_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Stands in for a read-only folder when the tests run as root (root may write anywhere).
    import splattwin.io._atomic as atomic

    def refuse(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic.os, "open", refuse)
    with pytest.raises(InputError) as error:
        write_gaussians(tmp_path / "out.splat", some_gaussians())
    monkeypatch.undo()
    assert_names_file(error, tmp_path / "out.splat", "Permission denied")
    assert not list(tmp_path.iterdir())


def test_failed_write_keeps_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "scene.ply"
    path.write_bytes(b"the old content")
    bad = some_gaussians()
    bad.means[0, 0] = np.inf
    with pytest.raises(InputError):
        write_gaussians(path, bad)
    assert path.read_bytes() == b"the old content"
    assert [p.name for p in tmp_path.iterdir()] == ["scene.ply"]


def test_atomic_output_on_exception_leaves_destination_untouched(tmp_path: Path) -> None:
    path = tmp_path / "layer.usdc"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_output(path) as temporary:
        assert temporary.parent == tmp_path and temporary.suffix == ".usdc" and temporary != path
        temporary.write_bytes(b"half of the new")
        raise RuntimeError("boom")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["layer.usdc"]


def test_atomic_output_replaces_and_keeps_permissions(tmp_path: Path) -> None:
    path = tmp_path / "scene.ply"
    path.write_bytes(b"old")
    path.chmod(0o640)
    with atomic_output(path) as temporary:
        temporary.write_bytes(b"new")
        assert path.read_bytes() == b"old"  # nothing changes before the block ends
    assert path.read_bytes() == b"new"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["scene.ply"]


def test_atomic_output_refuses_a_folder(tmp_path: Path) -> None:
    (tmp_path / "scene.ply").mkdir()
    with pytest.raises(InputError) as error, atomic_output(tmp_path / "scene.ply"):
        pass
    assert_names_file(error, tmp_path / "scene.ply", "folder")
