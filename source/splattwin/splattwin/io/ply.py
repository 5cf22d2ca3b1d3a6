"""3D Gaussian Splatting PLY files (the INRIA layout), read and written with NumPy.

Layout of a 3DGS PLY vertex: ``x y z [nx ny nz] f_dc_0..2 f_rest_0..M-1 opacity scale_0..2 rot_0..3``, where

- ``scale_*`` are natural logs of the linear scales (read: ``exp``),
- ``opacity`` is the logit of the linear opacity (read: ``sigmoid``),
- ``rot_0..3`` is the quaternion (w, x, y, z), not necessarily normalised,
- ``f_rest`` is channel-major: ``f_rest_{c*(K-1) + j}`` is coefficient ``j + 1`` of channel ``c``, with
  ``K = (degree + 1)^2``, so M is 0, 9, 24 or 45 for SH degree 0..3.

Why our own reader instead of ``gsply.plyread``: measured on a 1M-Gaussian SH3 file, gsply took ~1.0 s and
raised peak RSS by ~460 MB (twice the 236 MB of output arrays), and it reports every problem as a generic
"Unsupported PLY format". The import pipeline must turn a 1M SH3 PLY into USD in < 3 s with peak memory < 3x the
raw arrays, so this reader streams the binary body in chunks of rows through one reused buffer into preallocated
float32 outputs (converting log/logit in place), and it parses the whole header so each bad input gets a precise
error. Measured on the same file (2-core CPU): 0.28-0.5 s and +280 MB peak RSS (1.2x the arrays; the rest is
one 32 MB chunk buffer and validation temporaries), against 0.5-1.2 s and +462 MB for gsply.
PlayCanvas "compressed" PLY (an element ``chunk`` before ``vertex``) is decoded by gsply, which implements that codec.
gsply's decoder returns log scales (quantised per 256-Gaussian chunk between ``min_scale_*`` and ``max_scale_*``)
and logit opacities (from an 8-bit linear byte), which ``_read_compressed`` activates with ``exp`` and ``sigmoid``.
To write one with gsply (tests do), pass ``gsply.GSData.from_arrays(..., format="ply")``: given bare arrays,
gsply 0.4.6's ``plywrite`` guesses log/linear from the values, and when only the opacities look linear (logits
mostly in [0, 1]) it converts both fields, in place, writing already-log scales as ``exp(-20)`` = 2e-9 m.
"""

from __future__ import annotations

import itertools
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians, rgb_to_sh0
from splattwin.io._atomic import atomic_output
from splattwin.io._checks import check_declared_size, check_memory, validate_for_writing, validated_after_reading

__all__ = ["ply_declared_body_bytes", "read_ply", "write_ply"]

_CHUNK_ROWS = 131072
"""Rows per chunk when streaming a binary body (and when writing)."""

_HEADER_SEARCH_BYTES = 1 << 20
"""A header longer than this is treated as having no end_header (real headers are a few kB)."""

_PLY_TYPES = {
    "char": "i1",
    "int8": "i1",
    "uchar": "u1",
    "uint8": "u1",
    "short": "i2",
    "int16": "i2",
    "ushort": "u2",
    "uint16": "u2",
    "int": "i4",
    "int32": "i4",
    "uint": "u4",
    "uint32": "u4",
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
}
_BYTE_ORDER = {"binary_little_endian": "<", "binary_big_endian": ">", "ascii": "="}
_END_HEADER = re.compile(rb"(?:^|\n)end_header[ \t]*(?:\r?\n|\Z)")
_SH_REST_COUNTS = {0: 0, 9: 1, 24: 2, 45: 3}  # f_rest_* count -> SH degree
_COLOR_NAMES = ("red", "green", "blue")
_POSITION_NAMES = ("x", "y", "z")
_DC_NAMES = ("f_dc_0", "f_dc_1", "f_dc_2")
_SHAPE_NAMES = ("opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3")
_COMPRESSED_VERTEX = ("packed_position", "packed_rotation", "packed_scale", "packed_color")
_LARGEST_FLOAT32_BELOW_ONE = float(np.nextafter(np.float32(1), np.float32(0)))
_SMALLEST_FLOAT32 = float(np.nextafter(np.float32(0), np.float32(1)))


@dataclass
class _Property:
    name: str
    dtype: str  # NumPy type code without byte order, e.g. "f4"
    is_list: bool = False


@dataclass
class _Element:
    name: str
    count: int
    properties: list[_Property]


@dataclass
class _Header:
    format: str  # a key of _BYTE_ORDER
    elements: list[_Element]
    body_offset: int  # bytes from the start of the file to the first body byte


def read_ply(path: str | Path) -> Gaussians:
    """Read a 3D Gaussian Splatting PLY file.

    Accepts binary little/big endian and ASCII bodies, properties in any order and of any PLY scalar type
    (converted to float32), extra properties (ignored), other elements before or after ``vertex``, comments and
    ``obj_info`` lines. A PLY with ``red green blue`` instead of ``f_dc_*`` gets its DC coefficient from the
    colour (integer colours are divided by their type's maximum, float colours are taken as [0, 1]), but must
    still hold opacity, scales and rotations. PlayCanvas compressed PLYs are decoded with gsply.

    Args:
        path: the ``.ply`` file.

    Returns:
        Validated Gaussians with linear scales [m], linear opacities in [0, 1], unit quaternions (w, x, y, z)
        and SH coefficients [N, K, 3] in the frame and units of the file.

    Raises:
        InputError: the file is missing or not a PLY, its header is malformed, it has no ``vertex`` element, it
            lacks required properties (all are listed), its ``f_rest`` count is not 0, 9, 24 or 45, its body is
            truncated, or its values are invalid (NaN/Inf, scales that are zero after ``exp``, all-zero
            quaternions). The message names the file.
    """
    path = Path(path)
    try:
        with open(path, "rb") as file:
            header = _parse_header(file, path)
            vertex, skipped = _find_vertex_element(header, path)
            _check_sizes(path, header, vertex, skipped, os.fstat(file.fileno()).st_size)
            if any(element.name == "chunk" for element in header.elements) and _is_compressed(vertex):
                gaussians = _read_compressed(path)
            else:
                gaussians = _read_vertices(file, path, header, vertex, skipped)
    except OSError as exc:
        raise InputError(path, f"cannot be read: {exc.strerror or exc}") from exc
    return validated_after_reading(gaussians, path)


def write_ply(path: str | Path, gaussians: Gaussians) -> None:
    """Write Gaussians as a binary little-endian 3DGS PLY (INRIA layout, float32), atomically.

    Writes ``x y z nx ny nz f_dc_0..2 f_rest_* opacity scale_0..2 rot_0..3`` with normals 0, log scales and
    logit opacities computed in float64, and unit quaternions (w, x, y, z). Opacities of exactly 0 or 1 are
    moved to the nearest float32 inside (0, 1) so their logit stays finite; nothing else is clipped.

    Args:
        path: the destination ``.ply`` file.
        gaussians: the Gaussians to write (validated first).

    Raises:
        InputError: the Gaussians fail validation, or the destination's folder is missing or not writable.
            Nothing is written in either case.
    """
    path = Path(path)
    validate_for_writing(gaussians, path)
    num_rest = 3 * (gaussians.sh.shape[1] - 1)
    names = ["x", "y", "z", "nx", "ny", "nz", *_DC_NAMES, *(f"f_rest_{i}" for i in range(num_rest))]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {len(gaussians)}"]
    header += [f"property float {name}" for name in names] + ["end_header"]
    rest_stop = 9 + num_rest
    with atomic_output(path) as temporary, open(temporary, "wb") as file:
        file.write(("\n".join(header) + "\n").encode("ascii"))
        rows = np.zeros((min(_CHUNK_ROWS, len(gaussians)), len(names)), dtype="<f4")
        for start in range(0, len(gaussians), _CHUNK_ROWS):
            stop = min(start + _CHUNK_ROWS, len(gaussians))
            chunk = rows[: stop - start]
            chunk[:, 0:3] = gaussians.means[start:stop]
            chunk[:, 6:9] = gaussians.sh[start:stop, 0, :]
            # [n, K-1, 3] coefficient-major -> [n, 3, K-1] channel-major, flattened per row.
            chunk[:, 9:rest_stop] = gaussians.sh[start:stop, 1:, :].transpose(0, 2, 1).reshape(stop - start, -1)
            opacities = np.clip(
                gaussians.opacities[start:stop].astype(np.float64), _SMALLEST_FLOAT32, _LARGEST_FLOAT32_BELOW_ONE
            )
            chunk[:, rest_stop] = np.log(opacities) - np.log1p(-opacities)
            chunk[:, rest_stop + 1 : rest_stop + 4] = np.log(gaussians.scales[start:stop].astype(np.float64))
            quats = gaussians.quats_wxyz[start:stop].astype(np.float64)
            chunk[:, rest_stop + 4 : rest_stop + 8] = quats / np.linalg.norm(quats, axis=1, keepdims=True)
            file.write(chunk.data)


def _parse_header(file: BinaryIO, path: Path) -> _Header:
    head = file.read(_HEADER_SEARCH_BYTES)
    first_line = head.split(b"\n", 1)[0].rstrip(b"\r")
    if first_line != b"ply":
        raise InputError(path, f"not a PLY file: it starts with {head[:16]!r}, expected the line 'ply'")
    end = _END_HEADER.search(head)
    cut_short = len(head) == _HEADER_SEARCH_BYTES  # \Z in the pattern means end of file only if we read it all
    if end is None or (cut_short and not end.group().endswith(b"\n")):
        where = f" in its first {_HEADER_SEARCH_BYTES} bytes" if cut_short else ""
        raise InputError(path, f"malformed PLY header: no 'end_header' line{where}")
    try:
        lines = head[: end.start()].decode("ascii").splitlines()[1:]
    except UnicodeDecodeError as exc:
        raise InputError(path, f"malformed PLY header: non-ASCII byte at offset {exc.start}") from None

    format_name: str | None = None
    elements: list[_Element] = []
    for number, line in enumerate(lines, start=2):
        tokens = line.split()
        keyword = tokens[0] if tokens else ""
        if keyword in ("", "comment", "obj_info"):
            continue
        if keyword == "format":
            if len(tokens) != 3 or tokens[1] not in _BYTE_ORDER or tokens[2] not in ("1.0", "1"):
                supported = ", ".join(_BYTE_ORDER)
                raise InputError(
                    path,
                    f"malformed PLY header: bad format line {number} {line!r} (expected 'format X 1.0' "
                    f"with X one of {supported})",
                )
            format_name = tokens[1]
        elif keyword == "element":
            if len(tokens) != 3 or not tokens[2].isdigit():
                raise InputError(
                    path, f"malformed PLY header: bad element line {number} {line!r} (expected 'element NAME COUNT')"
                )
            elements.append(_Element(tokens[1], int(tokens[2]), []))
        elif keyword == "property":
            prop = _parse_property(tokens)
            if prop is None or not elements:
                problem = "before any element" if prop is not None else "expected 'property TYPE NAME'"
                raise InputError(path, f"malformed PLY header: bad property line {number} {line!r} ({problem})")
            elements[-1].properties.append(prop)
        else:
            raise InputError(path, f"malformed PLY header: unexpected line {number} {line!r}")
    if format_name is None:
        raise InputError(path, "malformed PLY header: no 'format' line")
    return _Header(format_name, elements, end.end())


def _parse_property(tokens: list[str]) -> _Property | None:
    """A property from its header tokens, or None if the line is malformed."""
    if len(tokens) == 3 and tokens[1] in _PLY_TYPES:
        return _Property(tokens[2], _PLY_TYPES[tokens[1]])
    if len(tokens) == 5 and tokens[1] == "list" and tokens[2] in _PLY_TYPES and tokens[3] in _PLY_TYPES:
        return _Property(tokens[4], _PLY_TYPES[tokens[3]], is_list=True)
    return None


def _find_vertex_element(header: _Header, path: Path) -> tuple[_Element, list[_Element]]:
    """The ``vertex`` element and the elements stored before it."""
    for index, element in enumerate(header.elements):
        if element.name == "vertex":
            return element, header.elements[:index]
    found = ", ".join(element.name for element in header.elements) or "none"
    raise InputError(path, f"no 'vertex' element in the PLY header (elements: {found})")


_ASCII_BYTES_PER_VALUE = 2
"""The fewest bytes one value takes in an ASCII body: one digit and one separator (space or newline)."""

_OUTPUT_FLOATS = 3 + 4 + 3 + 1
"""float32 values per Gaussian besides SH: means, quaternion, scales, opacity."""


def minimum_body_bytes(header: _Header, elements: list[_Element]) -> int:
    """The fewest body bytes the given elements can occupy, from their declared counts and property types.

    Binary: a list property takes at least its count's byte (a uchar count of 0); ASCII: every value at least
    :data:`_ASCII_BYTES_PER_VALUE` bytes. Used to refuse a corrupt count before anything is allocated.
    """
    total = 0
    for element in elements:
        if header.format == "ascii":
            per_row = _ASCII_BYTES_PER_VALUE * max(len(element.properties), 1)
        else:
            per_row = sum(1 if prop.is_list else np.dtype(prop.dtype).itemsize for prop in element.properties)
        total += element.count * per_row
    return total


def ply_declared_body_bytes(path: str | Path) -> tuple[int, int, str]:
    """For any PLY (mesh or Gaussians): the fewest body bytes its header's element counts need, the body bytes
    present, and the counts as text (``vertex 8, face 12``), from the header alone.

    Raises:
        InputError: the header is malformed.
    """
    path = Path(path)
    try:
        with open(path, "rb") as file:
            header = _parse_header(file, path)
            size = os.fstat(file.fileno()).st_size
    except OSError as exc:
        raise InputError(path, f"cannot be read: {exc.strerror or exc}") from exc
    counts = ", ".join(f"{element.name} {element.count}" for element in header.elements)
    return minimum_body_bytes(header, header.elements), size - header.body_offset, counts


def _check_sizes(path: Path, header: _Header, vertex: _Element, skipped: list[_Element], file_size: int) -> None:
    """Refuse a vertex count the file cannot hold, or whose arrays would not fit in memory, before allocating."""
    if header.format == "ascii":
        before = f" after {sum(e.count for e in skipped)} rows of earlier elements" if skipped else ""
        check_declared_size(
            path,
            minimum_body_bytes(header, [*skipped, vertex]),
            file_size - header.body_offset,
            f"the header's {vertex.count} vertices of {len(vertex.properties)} ASCII values each{before}",
        )
    else:
        start = header.body_offset + minimum_body_bytes(header, skipped)
        stride = minimum_body_bytes(header, [_Element(vertex.name, 1, vertex.properties)])
        available = max(file_size - start, 0)
        if available < vertex.count * stride:
            raise InputError(
                path,
                f"truncated body: the header declares {vertex.count} vertices of {stride} bytes "
                f"({vertex.count * stride} bytes from offset {start}) but only {available} bytes "
                f"({available // max(stride, 1)} whole vertices) are present",
            )
    rest = sum(prop.name.startswith("f_rest_") for prop in vertex.properties)
    floats = _OUTPUT_FLOATS + 3 + rest  # sh: the DC term plus f_rest_*
    needed = vertex.count * floats * 4
    if header.format == "ascii":  # np.loadtxt's float64 table and its float32 copy
        needed += vertex.count * len(vertex.properties) * (8 + 4)
    else:  # one reused chunk of raw rows
        needed += min(_CHUNK_ROWS, vertex.count) * sum(np.dtype(p.dtype).itemsize for p in vertex.properties)
    check_memory(path, needed, f"reading {vertex.count} Gaussians")


def _is_compressed(vertex: _Element) -> bool:
    return tuple(prop.name for prop in vertex.properties) == _COMPRESSED_VERTEX


def _read_compressed(path: Path) -> Gaussians:
    from gsply.reader import read_compressed  # noqa: PLC0415 - numba JIT import, only for this rare format

    data = read_compressed(path)
    if data is None:
        raise InputError(path, "cannot decode this PlayCanvas compressed PLY (truncated or malformed chunk data)")
    sh_rest = np.zeros((len(data.means), 0, 3), np.float32) if data.shN is None else data.shN
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return Gaussians(
            means=data.means,
            quats_wxyz=data.quats,
            scales=np.exp(data.scales),
            opacities=1.0 / (1.0 + np.exp(-data.opacities)),
            sh=np.concatenate([data.sh0[:, None, :], sh_rest], axis=1),
        )


@dataclass
class _ColumnMap:
    """Which vertex property (column index) fills each output value."""

    means: np.ndarray  # [3]
    quats: np.ndarray  # [4]
    scales: np.ndarray  # [3]
    opacity: int
    sh: np.ndarray  # [K, 3]; row 0 is unused (-1) when the DC term comes from colours
    colors: np.ndarray | None  # [3] columns of red/green/blue, or None
    color_divisor: float  # integer colours are divided by their type's maximum


def _map_columns(vertex: _Element, path: Path) -> _ColumnMap:
    for prop in vertex.properties:
        if prop.is_list:
            raise InputError(path, f"vertex property {prop.name!r} is a list; 3DGS PLY vertices hold only scalars")
    column = {prop.name: index for index, prop in enumerate(vertex.properties)}
    if len(column) != len(vertex.properties):
        duplicates = sorted({p.name for p in vertex.properties if sum(q.name == p.name for q in vertex.properties) > 1})
        raise InputError(path, f"vertex property names repeat: {', '.join(duplicates)}")

    has_dc = any(name in column for name in _DC_NAMES)
    has_colors = not has_dc and all(name in column for name in _COLOR_NAMES)
    required = [*_POSITION_NAMES, *(() if has_colors else _DC_NAMES), *_SHAPE_NAMES]  # in INRIA order
    missing = [name for name in required if name not in column]
    if missing:
        hint = " (a coloured point cloud, not Gaussians?)" if has_colors else ""
        found = ", ".join(prop.name for prop in vertex.properties[:20])
        more = ", ..." if len(vertex.properties) > 20 else ""
        raise InputError(path, f"missing required vertex properties: {', '.join(missing)}{hint} (found: {found}{more})")

    rest_names = [name for name in column if name.startswith("f_rest_")]
    if len(rest_names) not in _SH_REST_COUNTS:
        raise InputError(
            path, f"has {len(rest_names)} f_rest_* properties; expected 0, 9, 24 or 45 (SH degree 0, 1, 2 or 3)"
        )
    expected_rest = [f"f_rest_{i}" for i in range(len(rest_names))]
    if sorted(rest_names) != sorted(expected_rest):
        raise InputError(path, f"f_rest_* properties are not numbered 0..{len(rest_names) - 1}: {rest_names}")

    num_coeffs = (_SH_REST_COUNTS[len(rest_names)] + 1) ** 2
    sh = np.full((num_coeffs, 3), -1, dtype=np.intp)
    if not has_colors:
        sh[0] = [column[name] for name in _DC_NAMES]
    for channel in range(3):
        for coeff in range(1, num_coeffs):
            sh[coeff, channel] = column[f"f_rest_{channel * (num_coeffs - 1) + coeff - 1}"]

    colors, divisor = None, 1.0
    if has_colors:
        colors = np.array([column[name] for name in _COLOR_NAMES])
        color_type = np.dtype(vertex.properties[colors[0]].dtype)
        divisor = float(np.iinfo(color_type).max) if color_type.kind in "iu" else 1.0
    return _ColumnMap(
        means=np.array([column["x"], column["y"], column["z"]]),
        quats=np.array([column[f"rot_{i}"] for i in range(4)]),
        scales=np.array([column[f"scale_{i}"] for i in range(3)]),
        opacity=column["opacity"],
        sh=sh,
        colors=colors,
        color_divisor=divisor,
    )


def _read_vertices(file: BinaryIO, path: Path, header: _Header, vertex: _Element, skipped: list[_Element]) -> Gaussians:
    columns = _map_columns(vertex, path)
    count = vertex.count
    gaussians = Gaussians(
        means=np.empty((count, 3), np.float32),
        quats_wxyz=np.empty((count, 4), np.float32),
        scales=np.empty((count, 3), np.float32),
        opacities=np.empty(count, np.float32),
        sh=np.empty((count, columns.sh.shape[0], 3), np.float32),
    )
    if header.format == "ascii":
        file.seek(header.body_offset)
        _fill(gaussians, 0, _read_ascii_rows(file, path, vertex, skipped), columns)
        return gaussians

    byte_order = _BYTE_ORDER[header.format]
    row_type = np.dtype([(prop.name, byte_order + prop.dtype) for prop in vertex.properties])
    start = header.body_offset
    for element in skipped:
        if any(prop.is_list for prop in element.properties):
            raise InputError(
                path, f"element {element.name!r} before 'vertex' has list properties; it cannot be skipped"
            )
        start += element.count * sum(np.dtype(prop.dtype).itemsize for prop in element.properties)
    file.seek(0, 2)
    available = file.tell() - start
    if available < count * row_type.itemsize:
        raise InputError(
            path,
            f"truncated body: the header declares {count} vertices of {row_type.itemsize} bytes "
            f"({count * row_type.itemsize} bytes from offset {start}) but only {max(available, 0)} bytes "
            f"({max(available, 0) // row_type.itemsize} whole vertices) are present",
        )
    file.seek(start)
    # One float32 type for every property (the usual case): view the raw rows as a 2-D array, no field copies.
    uniform = len({prop.dtype for prop in vertex.properties}) == 1
    buffer = np.empty(min(_CHUNK_ROWS, count), dtype=row_type)
    for first in range(0, count, _CHUNK_ROWS):
        rows = buffer[: min(_CHUNK_ROWS, count - first)]
        if file.readinto(rows.view(np.uint8)) != rows.nbytes:  # the file shrank after the size check
            raise InputError(path, f"truncated body: the file ended inside vertex rows {first}..{first + len(rows)}")
        if uniform:
            table = rows.view(row_type[0]).reshape(len(rows), len(vertex.properties))
            if table.dtype != np.float32:  # other byte order or type: one converted copy of the chunk
                with np.errstate(over="ignore", invalid="ignore"):  # doubles beyond float32: Inf, refused later
                    table = table.astype(np.float32)
        else:
            table = np.empty((len(rows), len(vertex.properties)), np.float32)
            with np.errstate(over="ignore", invalid="ignore"):
                for index, prop in enumerate(vertex.properties):
                    table[:, index] = rows[prop.name]
        _fill(gaussians, first, table, columns)
    return gaussians


def _read_ascii_rows(file: BinaryIO, path: Path, vertex: _Element, skipped: list[_Element]) -> np.ndarray:
    """The vertex rows of an ASCII body as a float32 table [count, properties]."""
    import io  # noqa: PLC0415 - only for ASCII bodies

    text = io.TextIOWrapper(file, encoding="ascii", errors="replace")
    try:
        for _ in range(sum(element.count for element in skipped)):
            text.readline()
        lines = list(itertools.islice(text, vertex.count))
    finally:
        text.detach()  # the caller's `with` owns and closes the file, not this wrapper
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # loadtxt warns on empty input; the count check below covers it
            table = np.loadtxt(lines, dtype=np.float64, ndmin=2, comments=None)
    except ValueError as exc:
        raise InputError(path, f"malformed ASCII vertex data: {exc}") from None
    if len(table) < vertex.count:
        raise InputError(
            path, f"truncated body: the header declares {vertex.count} vertices but only {len(table)} lines follow"
        )
    if table.shape[1] != len(vertex.properties):
        raise InputError(
            path, f"malformed ASCII vertex data: {table.shape[1]} values per line, expected {len(vertex.properties)}"
        )
    with np.errstate(over="ignore", invalid="ignore"):  # values beyond float32 become Inf, refused by validation
        return table.astype(np.float32)


def _fill(gaussians: Gaussians, first: int, table: np.ndarray, columns: _ColumnMap) -> None:
    """Copy rows [first, first + len(table)) from a property table into the outputs, decoding log/logit."""
    rows = slice(first, first + len(table))
    np.take(table, columns.means, axis=1, out=gaussians.means[rows], mode="clip")
    np.take(table, columns.quats, axis=1, out=gaussians.quats_wxyz[rows], mode="clip")
    scales = gaussians.scales[rows]
    np.take(table, columns.scales, axis=1, out=scales, mode="clip")
    opacities = gaussians.opacities[rows]
    np.take(table, columns.opacity, axis=1, out=opacities, mode="clip")
    sh = gaussians.sh[rows]
    if columns.colors is None:
        np.take(table, columns.sh, axis=1, out=sh, mode="clip")
    else:
        sh[:, 0, :] = rgb_to_sh0(table[:, columns.colors] / columns.color_divisor)
        np.take(table, columns.sh[1:], axis=1, out=sh[:, 1:, :], mode="clip")
    # exp(-inf) = 0, exp(large) = inf and NaN (a signalling NaN raises "invalid") are reported by validation,
    # not as floating-point warnings.
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        np.exp(scales, out=scales)
        np.negative(opacities, out=opacities)
        np.exp(opacities, out=opacities)
        opacities += 1.0
        np.reciprocal(opacities, out=opacities)
