"""Read triangle meshes (OBJ, PLY, STL, glTF/GLB) into one float64 :class:`trimesh.Trimesh`, or fail clearly.

The loader returns geometry only (vertices and triangles): appearance comes from the Gaussians, and UVs, colours
and materials do not survive cleaning anyway. Vertices are returned in the frame and unit they are stored in.
glTF is y-up by specification; the loader does not rotate it (the import's ``--up-axis`` does that, once, for
every input), so a glTF and an OBJ exported from the same tool come back in the same frame.
"""

from __future__ import annotations

import io
import logging
import struct
from pathlib import Path

import numpy as np
import trimesh

from splattwin.errors import InputError
from splattwin.io._checks import check_declared_size, check_memory, format_bytes

__all__ = ["SUPPORTED_MESH_SUFFIXES", "load_mesh"]

logger = logging.getLogger(__name__)

SUPPORTED_MESH_SUFFIXES: tuple[str, ...] = (".obj", ".ply", ".stl", ".glb", ".gltf")
"""File suffixes :func:`load_mesh` reads (compared case-insensitively)."""

# OBJ files are text; bytes this early in a text file mean it is something else.
_BINARY_SNIFF_BYTES = 65536

_LOAD_BYTES_PER_FILE_BYTE = 16
"""Peak memory of trimesh's parsers per byte of file, generously: an OBJ vertex line of ~30 bytes becomes 24 bytes
of float64 plus split strings and index arrays on the way. Files needing more than the memory limit are refused."""

_STL_HEADER_BYTES = 84  # 80-byte header + uint32 triangle count
_STL_TRIANGLE_BYTES = 50


def load_mesh(path: str | Path) -> trimesh.Trimesh:
    """Load a triangle mesh from an OBJ, PLY, STL, GLB or glTF file.

    Scenes (glTF/GLB with several nodes, OBJ with several objects) are flattened: every mesh instance is placed
    by its node transform and all of them are concatenated into one mesh. Polygons are triangulated by trimesh.
    Nothing is merged, cleaned or reoriented here; :func:`splattwin.mesh.clean_mesh` does that and counts it.

    Args:
        path: the mesh file.

    Returns:
        A mesh with ``vertices`` float64 [V, 3] in the file's own frame and unit (glTF: y-up, as stored) and
        ``faces`` int64 [F, 3] with F >= 1, every index in [0, V).

    Raises:
        InputError: naming the file, when it is missing, has an unsupported suffix, cannot be parsed, holds no
            faces (empty, or a point cloud), has NaN/Inf vertex coordinates or face indices out of range.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_MESH_SUFFIXES:
        raise InputError(
            path, f"unsupported mesh format {path.suffix!r}; supported: {', '.join(SUPPORTED_MESH_SUFFIXES)}"
        )
    if not path.is_file():
        raise InputError(path, "mesh file does not exist" if not path.exists() else "is not a regular file")

    _check_declared_sizes(path, suffix)
    loaded = _read_with_trimesh(path, suffix)
    vertices, faces = _triangles_of(loaded, path)
    _check_arrays(vertices, faces, path)
    logger.info("%s: loaded %d vertices, %d triangles", path, len(vertices), len(faces))
    return trimesh.Trimesh(vertices=vertices, faces=faces, process=False, validate=False)


def _check_declared_sizes(path: Path, suffix: str) -> None:
    """Refuse, before trimesh allocates, a header count the file cannot hold or a file too big for memory."""
    size = path.stat().st_size
    check_memory(path, size * _LOAD_BYTES_PER_FILE_BYTE, f"loading this {format_bytes(size)} {suffix[1:].upper()} mesh")
    with open(path, "rb") as file:
        head = file.read(_BINARY_SNIFF_BYTES)
    if suffix == ".stl" and len(head) >= _STL_HEADER_BYTES and not head.lstrip().startswith(b"solid"):
        (count,) = struct.unpack_from("<I", head, 80)
        check_declared_size(
            path, _STL_HEADER_BYTES + _STL_TRIANGLE_BYTES * count, size, f"the binary STL header's {count} triangles"
        )
    elif suffix == ".ply" and head.startswith(b"ply"):
        from splattwin.io.ply import ply_declared_body_bytes  # noqa: PLC0415 - PLY meshes only

        try:
            minimum, available, counts = ply_declared_body_bytes(path)
        except InputError:
            return  # a header our strict Gaussian-PLY parser dislikes may still be one trimesh reads
        check_declared_size(path, minimum, available, f"the PLY header's elements ({counts})")


def _read_with_trimesh(path: Path, suffix: str) -> trimesh.parent.Geometry:
    """Parse the file with trimesh (process=False, so the data come back as stored) and wrap every failure."""
    resolver = trimesh.resolvers.FilePathResolver(path)
    try:
        if suffix == ".obj":
            data = path.read_bytes()
            if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
                raise InputError(path, "contains binary data; an OBJ file is text")
            # Geometry lines are ASCII; only comments and names can hold other encodings, so replacing
            # undecodable bytes loses nothing that matters (trimesh would need charset_normalizer to guess).
            text = data.decode("utf-8", errors="replace").encode("utf-8")
            return trimesh.load(
                io.BytesIO(text), file_type="obj", resolver=resolver, process=False, skip_materials=True
            )
        return trimesh.load(str(path), file_type=suffix[1:], resolver=resolver, process=False)
    except InputError:
        raise
    except IndexError as exc:
        if suffix == ".obj":  # trimesh's OBJ parser indexes the vertex list with the face's numbers directly
            raise InputError(path, f"a face refers to a vertex that does not exist ({exc})") from exc
        raise InputError(path, f"cannot be read as {suffix[1:].upper()}: {type(exc).__name__}: {exc}") from exc
    except ModuleNotFoundError as exc:
        if exc.name != "charset_normalizer":
            raise
        # trimesh asks charset_normalizer only when the bytes are neither valid binary data nor UTF-8 text.
        raise InputError(path, f"not a valid {suffix[1:].upper()} file (neither binary nor text)") from exc
    except Exception as exc:  # any parser failure is bad input; the message keeps the cause
        raise InputError(path, f"cannot be read as {suffix[1:].upper()}: {type(exc).__name__}: {exc}") from exc


def _triangles_of(loaded: object, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices [V, 3] and triangles [F, 3] of whatever trimesh returned, scene transforms applied."""
    if isinstance(loaded, trimesh.Scene):
        # dump() places every instance with its world transform.
        meshes = [g for g in loaded.dump(concatenate=False) if isinstance(g, trimesh.Trimesh) and len(g.faces)]
        if not meshes:
            raise InputError(path, _no_faces_problem(loaded))
        offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
        vertices = np.concatenate([np.asarray(m.vertices, dtype=np.float64) for m in meshes])
        faces = np.concatenate([np.asarray(m.faces, dtype=np.int64) + o for m, o in zip(meshes, offsets, strict=True)])
        return vertices, faces
    if isinstance(loaded, trimesh.Trimesh) and len(loaded.faces):
        return np.asarray(loaded.vertices, dtype=np.float64), np.asarray(loaded.faces, dtype=np.int64)
    raise InputError(path, _no_faces_problem(loaded))


def _no_faces_problem(loaded: object) -> str:
    """Explain why no triangles were found."""
    if isinstance(loaded, trimesh.PointCloud) or (
        isinstance(loaded, trimesh.Scene) and any(isinstance(g, trimesh.PointCloud) for g in loaded.geometry.values())
    ):
        return "holds a point cloud, not a mesh (no faces)"
    return "holds no faces (the file is empty or has no triangle/polygon data)"


def _check_arrays(vertices: np.ndarray, faces: np.ndarray, path: Path) -> None:
    """Reject non-finite coordinates and out-of-range indices with the count and the first offender."""
    if vertices.ndim != 2 or vertices.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
        raise InputError(path, f"expected vertices [V, 3] and faces [F, 3], got {vertices.shape} and {faces.shape}")
    bad_vertices = np.flatnonzero(~np.isfinite(vertices).all(axis=1))
    if len(bad_vertices):
        first = int(bad_vertices[0])
        raise InputError(
            path, f"{len(bad_vertices)} vertices have NaN/Inf coordinates (first: vertex {first} = {vertices[first]})"
        )
    bad_faces = np.flatnonzero(((faces < 0) | (faces >= len(vertices))).any(axis=1))
    if len(bad_faces):
        first = int(bad_faces[0])
        raise InputError(
            path,
            f"{len(bad_faces)} faces index vertices out of range [0, {len(vertices)}) "
            f"(first: face {first} = {faces[first].tolist()})",
        )
