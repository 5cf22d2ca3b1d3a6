"""Readers refuse before they allocate, and fuzzed files end in success or InputError, never anything else.

Part 1 hand-builds files whose headers declare more than they hold (the issue's ``element vertex 1000000000``,
SPZ counts and streams, a gzip bomb, STL/PLY mesh counts) and checks the one-line error against sizes computed
here. Part 2 is property-based: hypothesis mutates a valid seed file per reader (tests/fuzz_inputs.py) and the
reader must return valid data or raise :class:`InputError` naming the file; through the import command, the twin's
files must stay byte-identical on exit 2. Part 3 builds an SPZ v4 (zstd) file byte by byte from the format and
checks the decoded values against hand-computed ones. The long run is bench/fuzz_readers.py.
"""

from __future__ import annotations

import gzip
import math
import random
import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import zstandard
from conftest import file_bytes
from fuzz_inputs import READERS, mutate, seed_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import splattwin
from splattwin.cli import main
from splattwin.errors import InputError
from splattwin.io import read_gaussians
from splattwin.io._checks import MEMORY_LIMIT_ENV, memory_limit
from splattwin.io.spz import read_spz
from splattwin.mesh import load_mesh

SOURCE_ROOT = str(Path(splattwin.__file__).parents[1])
NGSP = 0x5053474E

# --- part 1: declared sizes are checked first ------------------------------------------------------------------


def _ply_header(count: int, fmt: str = "binary_little_endian", properties: int = 14) -> bytes:
    names = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2"]
    names += ["rot_0", "rot_1", "rot_2", "rot_3"]
    lines = ["ply", f"format {fmt} 1.0", f"element vertex {count}", *(f"property float {n}" for n in names)]
    return ("\n".join([*lines[: 3 + properties], "end_header"]) + "\n").encode()


def test_issue_case_billion_vertices_in_a_few_kb_exits_2(tmp_path: Path) -> None:
    """The issue's report: a corrupt count in a 4 kB PLY was `Unable to allocate 101. GiB`, exit 1."""
    path = tmp_path / "corrupt.ply"
    body = np.zeros((70, 14), "<f4").tobytes()  # 3920 bytes of rows
    path.write_bytes(_ply_header(1_000_000_000) + body)
    twin = tmp_path / "out" / "twin.usda"
    command = [sys.executable, "-m", "splattwin", "import-splat", str(path), "--stage", str(twin), "--prim", "/World/S"]
    result = subprocess.run(command, capture_output=True, text=True, env={"PYTHONPATH": SOURCE_ROOT, "PATH": ""})
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    # 10^9 rows x 14 float32 = 56,000,000,000 bytes declared; 3920 present (70 whole vertices).
    assert str(path) in result.stderr and "56000000000 bytes" in result.stderr and "3920 bytes" in result.stderr
    assert not twin.parent.exists()


def test_ascii_ply_count_beyond_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.ply"
    path.write_bytes(_ply_header(10**12, fmt="ascii") + b"0 " * 13 + b"0\n")
    with pytest.raises(InputError) as error:
        read_gaussians(path)
    # Every ASCII value takes >= 2 bytes: 10^12 rows x 14 values x 2 = 2.8e13 bytes; the body holds 28.
    assert (
        str(path) in str(error.value) and "28000000000000 bytes" in str(error.value) and "only 28" in str(error.value)
    )


def _spz_legacy(count: int, sh_degree: int, payload: bytes, version: int = 3, fractional_bits: int = 12) -> bytes:
    return gzip.compress(struct.pack("<IIIBBBB", NGSP, version, count, sh_degree, fractional_bits, 0, 0) + payload)


def test_spz_count_beyond_what_deflate_can_hold(tmp_path: Path) -> None:
    path = tmp_path / "c.spz"
    path.write_bytes(_spz_legacy(10**9, 0, bytes(200)))
    with pytest.raises(InputError) as error:
        read_gaussians(path)
    # v3, SH 0: 9 + 1 + 3 + 3 + 4 = 20 bytes per Gaussian -> 2e10 bytes, beyond 1032 x the file's size.
    assert str(path) in str(error.value) and "20000000000 bytes" in str(error.value) and "1032:1" in str(error.value)


def test_spz_gzip_bomb_is_refused_while_counting_in_bounded_memory(tmp_path: Path) -> None:
    """Two Gaussians declared, 64 MiB of zeros compressed behind them: refused without inflating it at once."""
    path = tmp_path / "bomb.spz"
    path.write_bytes(_spz_legacy(2, 0, bytes(64 << 20)))
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="decompresses to more than the 40 bytes"):
            read_gaussians(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20  # pieces of 4 MiB, never the 64 MiB payload


def test_spz_v4_stream_size_beyond_zstd_ratio(tmp_path: Path) -> None:
    header = struct.pack("<IIIBBBBI", NGSP, 4, 10, 0, 12, 0, 5, 32) + bytes(12)
    toc = b"".join(struct.pack("<QQ", 4, size) for size in (2**40, 10, 30, 30, 40))
    path = tmp_path / "v4.spz"
    path.write_bytes(header + toc + bytes(20))
    with pytest.raises(InputError, match=r"stream 0 declares 1099511627776 bytes from 4 compressed"):
        read_gaussians(path)


def test_splat_beyond_memory_limit_names_need_and_limit(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "s.splat"
    record = struct.pack("<3f3f4B4B", 0, 0, 0, 0.01, 0.01, 0.01, 200, 100, 50, 255, 255, 128, 128, 128)
    path.write_bytes(record * 24)
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1K")
    with pytest.raises(InputError) as error:
        read_gaussians(path)
    # 768 bytes of records + 24 Gaussians x 14 float32 x 2 (outputs and temporaries) = 3456 bytes = 3.38 KiB.
    assert str(path) in str(error.value) and "3.38 KiB" in str(error.value) and "limit of 1 KiB" in str(error.value)
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "lots")
    with pytest.raises(InputError, match=MEMORY_LIMIT_ENV.replace("_", "_")):
        read_gaussians(path)
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1.5g")
    assert memory_limit() == int(1.5 * 2**30)
    monkeypatch.delenv(MEMORY_LIMIT_ENV)
    assert len(read_gaussians(path)) == 24  # the default limit (physical memory) lets it through


def test_default_memory_limit_is_physical_memory() -> None:
    pages = (
        Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0] if Path("/proc/meminfo").exists() else None
    )
    if pages is None:
        pytest.skip("no /proc/meminfo")
    total = int(pages) * 1024
    assert memory_limit() <= total * 1.01 and memory_limit() > total * 0.5


def test_binary_stl_count_beyond_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.stl"
    triangle = struct.pack("<12fH", 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0)
    path.write_bytes(b"\0" * 80 + struct.pack("<I", 10**9) + triangle * 12)
    with pytest.raises(InputError) as error:
        load_mesh(path)
    assert str(path) in str(error.value) and f"{84 + 50 * 10**9} bytes" in str(error.value)


def test_ply_mesh_count_beyond_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.ply"
    header = "ply\nformat binary_little_endian 1.0\nelement vertex 3000000000\nproperty float x\nproperty float y\n"
    header += "property float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n"
    path.write_bytes(header.encode() + bytes(36 + 13))
    with pytest.raises(InputError) as error:
        load_mesh(path)
    # 3e9 vertices x 12 bytes + 1 face x >= 1 byte = 36,000,000,001 bytes declared; 49 present.
    assert "36000000001 bytes" in str(error.value) and "only 49" in str(error.value)


def test_mesh_beyond_memory_limit(tmp_path: Path, box_obj: Path, monkeypatch) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_ENV, str(box_obj.stat().st_size * 4))
    with pytest.raises(InputError, match=r"loading this .* OBJ mesh would need .* more than the limit"):
        load_mesh(box_obj)


# --- part 2: property-based fuzzing ---------------------------------------------------------------------------

_SEEDS: dict[str, bytes] = {}


def _seed(kind: str, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if kind not in _SEEDS:
        _SEEDS[kind] = seed_bytes(kind, tmp_path_factory.mktemp(f"seed-{kind}"))
    return _SEEDS[kind]


def _check_outcome(kind: str, path: Path) -> str:
    """'ok' with independently checked output, or 'refused' with an InputError naming the file."""
    reader = READERS[kind]
    try:
        result = read_gaussians(path) if reader.gaussians else load_mesh(path)
    except InputError as exc:
        assert str(path) in str(exc) or "$" in str(exc), str(exc)
        return "refused"
    if reader.gaussians:
        assert np.isfinite(result.means).all() and np.isfinite(result.sh).all()
        assert (result.scales > 0).all() and np.isfinite(result.scales).all()
        assert ((result.opacities >= 0) & (result.opacities <= 1)).all()
        np.testing.assert_allclose(np.linalg.norm(result.quats_wxyz, axis=1), 1.0, atol=1e-5)
    else:
        assert len(result.faces) > 0 and np.isfinite(result.vertices).all()
        assert result.faces.min() >= 0 and result.faces.max() < len(result.vertices)
    return "ok"


FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("kind", list(READERS))
@FUZZ
@given(rnd=st.randoms(use_true_random=False))
def test_mutated_file_reads_or_is_refused(kind: str, rnd: random.Random, tmp_path_factory) -> None:
    data, _ = mutate(kind, _seed(kind, tmp_path_factory), rnd)
    path = tmp_path_factory.mktemp("m") / f"mutant{READERS[kind].suffix}"
    path.write_bytes(data)
    _check_outcome(kind, path)


@pytest.fixture(scope="module")
def base_twin(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("twin")
    seed = folder / "seed.ply"
    seed.write_bytes(_seed("ply_binary", tmp_path_factory))
    twin = folder / "twin" / "twin.usda"
    assert main(["import-splat", str(seed), "--stage", str(twin), "--prim", "/World/Seed"]) == 0
    return twin


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(READERS)), rnd=st.randoms(use_true_random=False))
def test_mutated_import_is_all_or_nothing(kind: str, rnd: random.Random, base_twin: Path, tmp_path_factory) -> None:
    """Through the command: exit 0 adds the prim; exit 2 leaves every file of the twin byte-identical."""
    reader = READERS[kind]
    data, _ = mutate(kind, _seed(kind, tmp_path_factory), rnd)
    path = tmp_path_factory.mktemp("m") / f"mutant{reader.suffix}"
    path.write_bytes(data)
    before = file_bytes(base_twin.parent)
    prim = f"/World/Fuzz/P{rnd.randrange(1 << 30)}"
    verb = "import-splat" if reader.gaussians else "import-mesh"
    code = main([verb, str(path), "--stage", str(base_twin), "--prim", prim])
    assert code in (0, 2)
    if code == 2:
        assert file_bytes(base_twin.parent) == before
    else:
        from pxr import Usd

        assert Usd.Stage.Open(str(base_twin)).GetPrimAtPath(prim)


# --- part 3: SPZ v4 (zstd) decoded against the format ---------------------------------------------------------


def _int24(value: int) -> bytes:
    return (value & 0xFFFFFF).to_bytes(3, "little")


def test_spz_v4_zstd_file_built_from_the_format(tmp_path: Path) -> None:
    """Two Gaussians of SH degree 1, quantised by hand per the SPZ format, in an NGSP v4 container."""
    fractional_bits = 12
    positions = _int24(4096) + _int24(-2048) + _int24(1) + _int24(0) + _int24(8192) + _int24(-4096)
    alphas = bytes([128, 255])
    colors = bytes([127, 200, 50, 0, 255, 128])
    scales = bytes([96, 100, 112, 160, 96, 80])
    # Smallest three, 9-bit magnitudes: identity (largest = w, index 3); then z = w = sqrt(1/2) (z stored 511).
    rotations = struct.pack("<I", 3 << 30) + struct.pack("<I", (3 << 30) | 511)
    sh = bytes([128, 192, 64, 0, 255, 128, 130, 126, 128]) + bytes([128] * 9)  # 3 coefficients x RGB per point
    sections = [positions, alphas, colors, scales, rotations, sh]
    streams = [zstandard.ZstdCompressor(level=3).compress(section) for section in sections]
    header = struct.pack("<IIIBBBBI", NGSP, 4, 2, 1, fractional_bits, 0, len(streams), 32) + bytes(12)
    toc = b"".join(struct.pack("<QQ", len(c), len(u)) for c, u in zip(streams, sections, strict=True))
    path = tmp_path / "v4.spz"
    path.write_bytes(header + toc + b"".join(streams))

    g = read_spz(path, frame="rdf")  # the stored values as they are: no RUB -> RDF axis change
    np.testing.assert_allclose(g.means, [[1.0, -0.5, 1 / 4096], [0.0, 2.0, -1.0]], atol=1e-7)
    np.testing.assert_allclose(g.opacities, [128 / 255, 1.0], atol=2e-6)
    np.testing.assert_allclose(g.sh[:, 0, :], (np.array([[127, 200, 50], [0, 255, 128]]) / 255 - 0.5) / 0.15, atol=1e-5)
    np.testing.assert_allclose(g.scales, np.exp(np.array([[96, 100, 112], [160, 96, 80]]) / 16 - 10), rtol=1e-5)
    half = math.sqrt(0.5)
    np.testing.assert_allclose(g.quats_wxyz, [[1, 0, 0, 0], [half, 0, 0, half]], atol=1e-6)
    expected_rest = (np.array([[128, 192, 64, 0, 255, 128, 130, 126, 128], [128] * 9]) - 128) / 128
    np.testing.assert_allclose(g.sh[:, 1:, :].reshape(2, 9), expected_rest, atol=1e-6)
