"""Valid seed files per reader and the mutations that damage them; shared by tests/test_fuzz_readers.py and
bench/fuzz_readers.py (which puts ``tests/`` on its path).

Every mutation takes the seed's bytes and a ``random.Random`` (hypothesis's ``st.randoms()`` in the tests, a seeded
one in the bench) and returns damaged bytes plus a short label. Mutations know each format just enough to reach
past its checksums and magic numbers: SPZ gzip payloads are damaged *inside* the stream and recompressed, the GLB
JSON chunk has its numbers changed, PLY headers get other counts and types, bodies get NaN/Inf.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from splattwin.gaussians import Gaussians

__all__ = ["READERS", "Reader", "mutate", "seed_bytes"]

_SPECIAL_COUNTS = (0, 1, 2, 3, 7, 255, 256, 65535, 65536, 262145, 2**31 - 1, 2**31, 2**32 - 1, 10**9, 10**12)
_PLY_TYPES = ("char", "uchar", "short", "ushort", "int", "uint", "float", "double", "int8", "float64", "list uchar int")
_FLOAT_SPECIALS = (np.nan, np.inf, -np.inf, 0.0, -0.0, 1e38, -1e38, 1e-45, 3.4e38)


def _gaussians(count: int, degree: int, seed: int = 7) -> Gaussians:
    rng = np.random.default_rng(seed)
    quats = rng.standard_normal((count, 4))
    return Gaussians(
        means=rng.uniform(-1, 1, (count, 3)),
        quats_wxyz=quats / np.linalg.norm(quats, axis=1, keepdims=True),
        scales=rng.uniform(0.005, 0.05, (count, 3)),
        opacities=rng.uniform(0.05, 0.95, count),
        sh=rng.normal(0, 0.2, (count, (degree + 1) ** 2, 3)).clip(-0.9, 0.9),
    )


def _ascii_ply(gaussians: Gaussians) -> bytes:
    names = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2"]
    names += ["rot_0", "rot_1", "rot_2", "rot_3"]
    header = ["ply", "format ascii 1.0", f"element vertex {len(gaussians)}"]
    header += [f"property float {n}" for n in names] + ["end_header"]
    logit = np.log(gaussians.opacities) - np.log1p(-gaussians.opacities)
    table = np.column_stack(
        [gaussians.means, gaussians.sh[:, 0, :], logit, np.log(gaussians.scales), gaussians.quats_wxyz]
    )
    rows = "\n".join(" ".join(f"{v:.6g}" for v in row) for row in table)
    return ("\n".join(header) + "\n" + rows + "\n").encode()


def seed_bytes(kind: str, folder: Path) -> bytes:
    """The bytes of a small valid file for reader ``kind`` (written with the project's writers or trimesh)."""
    import gsply

    from splattwin.io import write_gaussians

    folder.mkdir(parents=True, exist_ok=True)
    if kind == "ply_binary":
        path = folder / "seed.ply"
        write_gaussians(path, _gaussians(24, degree=1))
    elif kind == "ply_ascii":
        return _ascii_ply(_gaussians(12, degree=0))
    elif kind == "spz":
        path = folder / "seed.spz"
        write_gaussians(path, _gaussians(24, degree=1))
    elif kind == "spz_v4":
        path = folder / "seed_v4.spz"
        g = _gaussians(24, degree=1)
        data = gsply.GSData.from_arrays(
            means=g.means.astype(np.float32),
            scales=np.log(g.scales).astype(np.float32),
            quats=g.quats_wxyz.astype(np.float32),
            opacities=(np.log(g.opacities) - np.log1p(-g.opacities)).astype(np.float32),
            sh0=g.sh[:, 0, :].astype(np.float32),
            shN=g.sh[:, 1:, :].astype(np.float32),
            format="ply",
        )
        gsply.write_spz(path, data, version=4)
    elif kind == "splat":
        path = folder / "seed.splat"
        write_gaussians(path, _gaussians(24, degree=0))
    else:
        box = trimesh.creation.box(extents=(0.1, 0.06, 0.05))
        suffix = {"mesh_obj": "obj", "mesh_ply": "ply", "mesh_stl": "stl", "mesh_stl_ascii": "stl", "mesh_glb": "glb"}
        if kind == "mesh_stl_ascii":
            return trimesh.exchange.stl.export_stl_ascii(box).encode()
        path = folder / f"seed.{suffix[kind]}"
        box.export(path)
    return path.read_bytes()


# --- mutations --------------------------------------------------------------------------------------------------


def _header_end(data: bytes) -> int:
    end = data.find(b"end_header")
    return end + len(b"end_header\n") if end >= 0 else min(len(data), 96)


def _truncate(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    cut = rnd.choice([rnd.randrange(len(data)), rnd.randrange(min(len(data), _header_end(data) + 8)), len(data) - 1])
    return data[:cut], f"truncate@{cut}"


def _flip_bits(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    out = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        out[rnd.randrange(len(out))] ^= 1 << rnd.randrange(8)
    return bytes(out), "flip"


def _header_bytes(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    out = bytearray(data)
    end = max(_header_end(data), 1)
    for _ in range(rnd.randint(1, 4)):
        out[rnd.randrange(end)] = rnd.randrange(256)
    return bytes(out), "header-bytes"


def _garbage(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    junk = rnd.randbytes(rnd.choice([1, 7, 64, 1000]))
    where = rnd.choice(["append", "insert", "replace", "only"])
    position = rnd.randrange(len(data) + 1)
    if where == "append":
        return data + junk, "garbage-append"
    if where == "insert":
        return data[:position] + junk + data[position:], "garbage-insert"
    if where == "replace":
        return data[:position] + junk + data[position + len(junk) :], "garbage-replace"
    return junk, "garbage-only"


def _nan_inf(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    out = bytearray(data)
    start = _header_end(data)
    for _ in range(rnd.randint(1, 6)):
        if len(out) - start < 4:
            break
        offset = start + 4 * rnd.randrange((len(out) - start) // 4)
        out[offset : offset + 4] = struct.pack("<f", rnd.choice(_FLOAT_SPECIALS))
    return bytes(out), "nan-inf"


def _text_numbers(data: bytes, rnd: random.Random, header_only: bool) -> tuple[bytes, str]:
    """Replace integers (header counts) or numbers (ASCII values) in the text part with special values."""
    end = _header_end(data) if header_only else len(data)
    text = data[:end]
    pattern = rb"(?<=element )(\w+) (\d+)" if header_only else rb"-?\d+(?:\.\d+)?(?:e-?\d+)?"
    matches = list(re.finditer(pattern, text))
    if not matches:
        return _flip_bits(data, rnd)
    match = rnd.choice(matches)
    if header_only:
        new = (
            match.group(1)
            + b" "
            + str(rnd.choice([*_SPECIAL_COUNTS, int(match.group(2)) + rnd.randint(-3, 3)])).encode()
        )
    else:
        new = rnd.choice([b"nan", b"inf", b"-inf", b"1e309", b"0", b"-1", b"99999999999", b"", b"x", b"1.5"])
    return data[: match.start()] + new.replace(b"--", b"-") + data[match.end() :], "numbers"


def _ply_types(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    end = _header_end(data)
    matches = list(re.finditer(rb"property (\w+(?: \w+ \w+)?) ", data[:end]))
    if not matches:
        return _flip_bits(data, rnd)
    match = rnd.choice(matches)
    new = f"property {rnd.choice(_PLY_TYPES)} ".encode()
    return data[: match.start()] + new + data[match.end() :], "property-type"


def _ply_format(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    formats = [b"ascii", b"binary_little_endian", b"binary_big_endian", b"binary", b""]
    return re.sub(rb"(?<=format )\w+", rnd.choice(formats), data, count=1), "format"


def _spz_inner(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    """Damage the decompressed SPZ payload (header fields, counts, bytes, length), then recompress."""
    raw = bytearray(gzip.decompress(data))
    choice = rnd.randrange(5)
    if choice == 0:  # Gaussian count
        struct.pack_into("<I", raw, 8, rnd.choice([c for c in _SPECIAL_COUNTS if c < 2**32]))
    elif choice == 1:  # version, SH degree, fractional bits, flags
        raw[rnd.choice([4, 12, 13, 14])] = rnd.randrange(256)
    elif choice == 2:
        raw = raw[: rnd.randrange(len(raw))]
    elif choice == 3:
        for _ in range(rnd.randint(1, 16)):
            raw[rnd.randrange(16, len(raw))] = rnd.randrange(256)
    else:
        raw += bytes(rnd.choice([1, 100, 1 << 16]))
    return gzip.compress(bytes(raw)), f"spz-inner-{choice}"


def _spz_v4_header(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    """Damage the plain v4 header or table of streams (counts, offsets, sizes)."""
    out = bytearray(data)
    field = rnd.choice([8, 12, 13, 15, 16, "toc"])
    if field == 8:
        struct.pack_into("<I", out, 8, rnd.choice([c for c in _SPECIAL_COUNTS if c < 2**32]))
    elif field == 16:
        struct.pack_into("<I", out, 16, rnd.randrange(len(out) + 64))
    elif field == "toc":
        (toc,) = struct.unpack_from("<I", out, 16)
        entry = toc + 16 * rnd.randrange(max(out[15], 1)) + 8 * rnd.randrange(2)
        if entry + 8 <= len(out):
            struct.pack_into("<Q", out, entry, rnd.choice([0, 1, 2**40, 2**63, rnd.randrange(1 << 20)]))
    else:
        out[field] = rnd.randrange(256)
    return bytes(out), f"v4-{field}"


def _glb_json(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    """Change a number in the GLB's JSON chunk (accessor counts, offsets, lengths, indices) and re-frame it."""
    (json_length,) = struct.unpack_from("<I", data, 12)
    document = json.loads(data[20 : 20 + json_length])
    slots = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, int) and not isinstance(value, bool):
                    slots.append((node, key))
                walk(value)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                if isinstance(value, int) and not isinstance(value, bool):
                    slots.append((node, index))
                walk(value)

    walk(document)
    node, key = rnd.choice(slots)
    node[key] = rnd.choice([*_SPECIAL_COUNTS, -1, node[key] + 1, node[key] * 2])
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    rest = data[20 + json_length :]
    body = struct.pack("<I", len(text)) + b"JSON" + text + rest
    return data[:8] + struct.pack("<I", 12 + len(body)) + body, "glb-json"


def _stl_count(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    out = bytearray(data)
    struct.pack_into("<I", out, 80, rnd.choice([c for c in _SPECIAL_COUNTS if c < 2**32]))
    return bytes(out), "stl-count"


def _obj_lines(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    lines = data.split(b"\n")
    index = rnd.randrange(len(lines))
    new = rnd.choice(
        [b"f 1 2 999999", b"f 0 1 2", b"f -1 -2 -3", b"f 1", b"v nan 0 0", b"v 1e309 0 0", b"v 1 2", b"f 1/2/3 4//5 x"]
    )
    lines[index] = new
    return b"\n".join(lines), "obj-line"


_GENERIC = (_truncate, _flip_bits, _header_bytes, _garbage)

_BY_KIND: dict[str, tuple[Callable[[bytes, random.Random], tuple[bytes, str]], ...]] = {
    "ply_binary": (*_GENERIC, _nan_inf, _ply_types, _ply_format, lambda d, r: _text_numbers(d, r, True)),
    "ply_ascii": (
        *_GENERIC,
        _ply_types,
        _ply_format,
        lambda d, r: _text_numbers(d, r, True),
        lambda d, r: _text_numbers(d, r, False),
    ),
    "spz": (*_GENERIC, _spz_inner, _spz_inner, _spz_inner),
    "spz_v4": (*_GENERIC, _spz_v4_header, _spz_v4_header),
    "splat": (*_GENERIC, _nan_inf, _nan_inf),
    "mesh_obj": (*_GENERIC, _obj_lines, _obj_lines, lambda d, r: _text_numbers(d, r, False)),
    "mesh_ply": (*_GENERIC, _nan_inf, _ply_types, _ply_format, lambda d, r: _text_numbers(d, r, True)),
    "mesh_stl": (*_GENERIC, _nan_inf, _stl_count),
    "mesh_stl_ascii": (*_GENERIC, lambda d, r: _text_numbers(d, r, False)),
    "mesh_glb": (*_GENERIC, _glb_json, _glb_json, _nan_inf),
}


def mutate(kind: str, data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    """One to three mutations of ``data`` suited to reader ``kind``; returns the bytes and a label."""
    labels = []
    for _ in range(rnd.choice([1, 1, 1, 2, 3])):
        if not data:
            break
        try:
            data, label = rnd.choice(_BY_KIND[kind])(data, rnd)
        except (OSError, EOFError, ValueError, struct.error, IndexError, KeyError, zlib.error):
            data, label = _flip_bits(data, rnd) if data else (data, "empty")  # an inner mutation met damage
        labels.append(label)
    return data, "+".join(labels) or "none"


@dataclass(frozen=True)
class Reader:
    """A reader under fuzzing: its file suffix and whether it reads Gaussians (else a mesh)."""

    kind: str
    suffix: str
    gaussians: bool


READERS = {
    reader.kind: reader
    for reader in (
        Reader("ply_binary", ".ply", True),
        Reader("ply_ascii", ".ply", True),
        Reader("spz", ".spz", True),
        Reader("spz_v4", ".spz", True),
        Reader("splat", ".splat", True),
        Reader("mesh_obj", ".obj", False),
        Reader("mesh_ply", ".ply", False),
        Reader("mesh_stl", ".stl", False),
        Reader("mesh_stl_ascii", ".stl", False),
        Reader("mesh_glb", ".glb", False),
    )
}
