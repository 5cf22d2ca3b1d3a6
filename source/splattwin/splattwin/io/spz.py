"""Niantic SPZ files (compressed Gaussian splats), through gsply's codec.

gsply's ``read_spz`` / ``write_spz`` work on a ``GSData`` in "PLY" conventions: log scales, logit opacities,
unit quaternions (w, x, y, z), ``sh0`` [N, 3] and ``shN`` [N, K-1, 3] coefficient-major (the same order as our
``sh[:, 1:]``). This module converts to and from :class:`~splattwin.gaussians.Gaussians` and turns gsply's
errors into :class:`~splattwin.errors.InputError` naming the file.

SPZ is lossy. Its quantisation (github.com/nianticlabs/spz, as gsply implements it) bounds the round-trip error:

- positions: 24-bit signed fixed point with ``fractional_bits`` (default 12) fractional bits, so a step of
  2^-12 m (error <= 0.12 mm) and a range of +-2048 m;
- scales: ``byte = (log(scale) + 10) * 16``, a step of 1/16 in log scale (relative error <= exp(1/32) - 1 =
  3.2 %), range [exp(-10), exp(5.94)] = [45 um, 380 m];
- opacities: ``byte = opacity * 255`` (error <= 0.5/255), decoded inside [1e-6, 1 - 1e-6];
- DC colour: ``byte = sh0 * 0.15 * 255 + 127.5``, a step of 1/38.25 (error <= 0.0131), range +-3.33;
- higher SH bands: ``byte = sh * 128 + 128``, a step of 1/128 (error <= 1/256), range [-1, 127/128];
- rotations (version 3): "smallest three" with 9-bit magnitudes, each stored component within
  (1/sqrt(2)) / 511 / 2 of the unit quaternion's.

Axes. SPZ's specification (github.com/nianticlabs/spz, README "Coordinate System") stores RUB (x right, y up,
z back: three.js / OpenGL), where a 3DGS PLY is RDF (x right, y down, z forward: the COLMAP camera convention);
Niantic's library converts on save and load. Writers disagree in the wild: Niantic's library writes
RUB, PlayCanvas splat-transform 2.x wrote RUB (``from: RDF``), splat-transform 3.x and gsply write the PLY's
values unconverted (RDF). Nothing in a v1-v3 file says which, so the caller picks with ``frame``
(:data:`SPZ_FRAMES`, default :data:`DEFAULT_SPZ_FRAME`); in memory the Gaussians are always in PLY (RDF) terms,
so an SPZ and the PLY it was made from import alike. RUB <-> RDF is a half turn about x (y and z negated): means
(x, -y, -z), quaternions (w, x, -y, -z), and each SH coefficient times the parity of its basis polynomial in y
and z (:data:`_RUB_RDF_SH_SIGNS`), the same map in both directions.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians
from splattwin.io._atomic import atomic_output
from splattwin.io._checks import check_declared_size, check_memory, validate_for_writing, validated_after_reading

__all__ = ["DEFAULT_SPZ_FRAME", "SPZ_FRAMES", "SPZ_FRAME_WRITERS", "flip_rub_rdf", "read_spz", "write_spz"]

SPZ_FRAMES: tuple[str, ...] = ("rub", "rdf")
"""The axis conventions an SPZ file can be in: ``rub`` (the SPZ specification's) or ``rdf`` (a PLY's, unconverted)."""

DEFAULT_SPZ_FRAME = "rub"
"""The specification's frame, what Niantic's reference library writes and reads."""

SPZ_FRAME_WRITERS: dict[str, str] = {
    "rub": "Niantic's spz library and PlayCanvas splat-transform 2.x",
    "rdf": "PlayCanvas splat-transform 3.x and gsply",
}
"""Who writes each frame (for messages and docs/formats.md)."""

# Parity in (y, z) of the 3DGS real SH basis, coefficients 1..15 (band 1: y, z, x; band 2: xy, yz, 3z^2-1, xz,
# x^2-y^2; band 3: y(3x^2-y^2), xyz, y(4z^2-x^2-y^2), z(2z^2-3x^2-3y^2), x(4z^2-x^2-y^2), z(x^2-y^2),
# x(x^2-3y^2)): a basis function odd in y xor z changes sign when y and z are negated.
_RUB_RDF_SH_SIGNS = np.array([1, -1, -1, 1, -1, 1, 1, -1, 1, -1, 1, -1, -1, 1, -1, 1], dtype=np.float32)

# Value ranges SPZ's bytes can hold; the writer clips anything outside (with a warning).
_LOG_SCALE_RANGE = (-10.0, 255 / 16 - 10.0)
_SH0_RANGE = (-127.5 / (0.15 * 255), 127.5 / (0.15 * 255))
_SH_REST_RANGE = (-1.0, 127 / 128)

# What gsply raises on a corrupt container: ValueError for bad headers and sizes, OSError/EOFError/zlib.error
# from gzip on truncated or garbage streams, struct.error on short headers (zstandard's ZstdError is added lazily).
_DECODE_ERRORS = (ValueError, OSError, EOFError, zlib.error, struct.error)

# Container layout (github.com/nianticlabs/spz): legacy = gzip(16-byte header + sections); v4 = 32-byte header,
# a TOC of (compressed, uncompressed) u64 pairs, then one zstd stream per section.
_GZIP_MAGIC = b"\x1f\x8b"
_NGSP_MAGIC = 0x5053474E
_LEGACY_HEADER = struct.Struct("<IIIBBBB")
_V4_HEADER = struct.Struct("<IIIBBBBI")
_SH_DIM = {0: 0, 1: 3, 2: 8, 3: 15}  # SH coefficients per channel beyond the DC term, by degree
_DEFLATE_MAX_RATIO = 1032
"""Deflate cannot expand more than 1032:1 (a 258-byte match costs at least ~2 bits), so a gzip stream of B bytes
holds at most 1032 B: a header count needing more is corrupt, whatever the stream says."""
_ZSTD_MAX_RATIO = 32768
"""zstd's densest encoding is an RLE block: 128 KiB from a 4-byte block, so at most 32768:1."""
_EXTENSION_SLACK_BYTES = 1 << 20
"""Legacy payloads may carry extension bytes after the sections; more than this beyond the declared size is a
decompression bomb, not an extension."""
_DECOMPRESS_PIECE = 1 << 22


def _bytes_per_point(version: int, sh_degree: int) -> int:
    rotation = 4 if version >= 3 else 3
    return 9 + 1 + 3 + 3 + rotation + 3 * _SH_DIM[sh_degree]


def _output_bytes(count: int, sh_degree: int) -> int:
    # gsply's float32 arrays (means, scales, quats, opacity, sh0, shN with at least one row), then our sh concat.
    floats = 3 + 3 + 4 + 1 + 3 + 3 * max(_SH_DIM[sh_degree], 1) + 3 * (1 + _SH_DIM[sh_degree])
    return count * floats * 4


def _check_spz_sizes(path: Path, raw: bytes) -> None:
    """Check the header's counts against the container and memory before gsply decompresses or allocates."""
    if raw[:2] == _GZIP_MAGIC:
        _check_legacy(path, raw)
    elif len(raw) >= _V4_HEADER.size and struct.unpack_from("<I", raw)[0] == _NGSP_MAGIC:
        _check_v4(path, raw)
    # Anything else: gsply names the problem (unrecognised container, too small).


def _check_header_fields(path: Path, version: int, sh_degree: int, fractional_bits: int, versions: range) -> None:
    if version not in versions:
        raise InputError(path, f"not a readable SPZ file: unsupported version {version}")
    if sh_degree not in _SH_DIM:
        raise InputError(path, f"not a readable SPZ file: SH degree {sh_degree} (expected 0..3)")
    if not 1 <= fractional_bits <= 24:
        raise InputError(path, f"not a readable SPZ file: fractional_bits {fractional_bits} (expected 1..24)")


def _check_legacy(path: Path, raw: bytes) -> None:
    """Gzip container: read the header from the stream's start, bound the payload, then stream-count the rest."""
    stream = zlib.decompressobj(wbits=31)
    try:
        head = stream.decompress(raw, _LEGACY_HEADER.size)
    except zlib.error as exc:
        raise InputError(path, f"not a readable SPZ file: corrupt gzip stream ({exc})") from None
    if len(head) < _LEGACY_HEADER.size:
        return  # gsply reports the short or broken stream
    magic, version, count, sh_degree, fractional_bits, _, _ = _LEGACY_HEADER.unpack(head)
    if magic != _NGSP_MAGIC:
        raise InputError(path, f"not a readable SPZ file: magic 0x{magic:08x} inside the gzip stream")
    _check_header_fields(path, version, sh_degree, fractional_bits, range(1, 4))
    payload = count * _bytes_per_point(version, sh_degree)
    what = f"the header's {count} Gaussians (SPZ v{version}, SH degree {sh_degree})"
    check_declared_size(path, payload, _DEFLATE_MAX_RATIO * len(raw), f"{what} (decompressed, at most 1032:1)")
    check_memory(path, len(raw) + _LEGACY_HEADER.size + payload + _output_bytes(count, sh_degree), f"decoding {what}")
    # gsply decompresses the whole stream at once: count what it would produce first, in bounded pieces.
    allowed = payload + _EXTENSION_SLACK_BYTES
    produced = 0
    pending = stream.unconsumed_tail
    try:
        while True:
            produced += len(stream.decompress(pending, _DECOMPRESS_PIECE))
            pending = stream.unconsumed_tail
            if produced > allowed:
                raise InputError(
                    path,
                    f"corrupt SPZ: the gzip stream decompresses to more than the {payload} bytes {what} need "
                    f"(stopped after {produced} bytes; a decompression bomb or a wrong header)",
                )
            if stream.eof:
                rest = stream.unused_data.lstrip(b"\0")
                if not rest:
                    return
                if rest[:2] != _GZIP_MAGIC:
                    return  # trailing garbage: gsply reports it
                stream, pending = zlib.decompressobj(wbits=31), rest  # another gzip member follows
            elif not pending:
                return  # truncated stream: gsply reports it
    except zlib.error as exc:
        raise InputError(path, f"not a readable SPZ file: corrupt gzip stream ({exc})") from None


def _check_v4(path: Path, raw: bytes) -> None:
    """NGSP v4: the header and TOC are plain bytes; bound every stream's declared size before zstd allocates it."""
    magic, version, count, sh_degree, fractional_bits, _, num_streams, toc_offset = _V4_HEADER.unpack_from(raw)
    _check_header_fields(path, version, sh_degree, fractional_bits, range(4, 5))
    payload = count * _bytes_per_point(version, sh_degree)
    what = f"the header's {count} Gaussians (SPZ v{version}, SH degree {sh_degree})"
    check_declared_size(path, payload, _ZSTD_MAX_RATIO * len(raw), f"{what} (decompressed, at most 32768:1)")
    toc_end = toc_offset + 16 * num_streams
    if toc_offset < _V4_HEADER.size or toc_end > len(raw):
        raise InputError(
            path, f"not a readable SPZ file: its table of streams ({toc_offset}..{toc_end}) lies outside it"
        )
    for index in range(num_streams):
        compressed, uncompressed = struct.unpack_from("<QQ", raw, toc_offset + 16 * index)
        if compressed > len(raw) or uncompressed > _ZSTD_MAX_RATIO * compressed + 64:
            raise InputError(
                path,
                f"corrupt SPZ: stream {index} declares {uncompressed} bytes from {compressed} compressed bytes "
                f"(a file of {len(raw)} bytes; zstd expands at most 32768:1)",
            )
    check_memory(path, len(raw) + 2 * payload + _output_bytes(count, sh_degree), f"decoding {what}")


def _check_frame(frame: str) -> None:
    if frame not in SPZ_FRAMES:
        raise InputError("--spz-frame", f"must be one of {', '.join(SPZ_FRAMES)}, got {frame!r}")


def flip_rub_rdf(gaussians: Gaussians) -> Gaussians:
    """Gaussians turned half a turn about x: RUB <-> RDF (its own inverse); means, orientations and SH follow.

    Args:
        gaussians: in either frame.

    Returns:
        New Gaussians: means (x, -y, -z), quaternions (w, x, -y, -z) (the same rotation conjugated by the half
        turn, so scales keep their axes), SH coefficient k times :data:`_RUB_RDF_SH_SIGNS` [k].
    """
    signs = _RUB_RDF_SH_SIGNS[: gaussians.sh.shape[1]]
    return Gaussians(
        means=gaussians.means * np.array([1, -1, -1], dtype=np.float32),
        quats_wxyz=gaussians.quats_wxyz * np.array([1, 1, -1, -1], dtype=np.float32),
        scales=gaussians.scales.copy(),
        opacities=gaussians.opacities.copy(),
        sh=gaussians.sh * signs[None, :, None],
    )


def read_spz(path: str | Path, *, frame: str = DEFAULT_SPZ_FRAME) -> Gaussians:
    """Read a Niantic SPZ file (gzip container v1-v3, or the NGSP v4 container with zstd streams).

    Before gsply decodes anything, the header's Gaussian count is checked against what the container can hold
    (deflate expands at most 1032:1, zstd 32768:1), the gzip stream is counted in bounded pieces so it cannot
    decompress to more than the header declares (plus 1 MiB of extensions), and the decoded arrays are checked
    against the memory limit (:func:`splattwin.io._checks.memory_limit`).

    Args:
        path: the ``.spz`` file.
        frame: the axes the file stores (module docstring): ``rub`` (the spec's) is turned into a PLY's RDF,
            ``rdf`` is taken as stored.

    Returns:
        Validated Gaussians with linear scales [m], linear opacities in [0, 1], unit quaternions (w, x, y, z)
        and SH coefficients [N, K, 3], in the units of the file and a PLY's (RDF) axes.

    Raises:
        InputError: the file is missing, truncated, not an SPZ file, or decodes to invalid values; an unknown
            ``frame``.
    """
    import gsply  # noqa: PLC0415 - numba-compiled codec, imported only when SPZ is used

    _check_frame(frame)
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "cannot be read: no such file" if not path.exists() else "cannot be read: not a file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot be read: {exc.strerror or exc}") from exc
    _check_spz_sizes(path, raw)
    del raw
    try:
        data = gsply.read_spz(path)
    except (*_DECODE_ERRORS, *_zstd_errors()) as exc:
        raise InputError(path, f"not a readable SPZ file: {str(exc).removesuffix(f': {path}')}") from None
    num_gaussians = len(data.means)
    sh_rest = np.zeros((num_gaussians, 0, 3), np.float32) if data.shN is None else data.shN
    gaussians = Gaussians(
        means=data.means,
        quats_wxyz=data.quats,
        scales=np.exp(data.scales),
        opacities=1.0 / (1.0 + np.exp(-data.opacities)),
        sh=np.concatenate([data.sh0[:, None, :], sh_rest], axis=1),
    )
    if frame == "rub":
        gaussians = flip_rub_rdf(gaussians)
    return validated_after_reading(gaussians, path)


def _zstd_errors() -> tuple[type[Exception], ...]:
    try:
        import zstandard  # noqa: PLC0415 - only v4 files use it
    except ImportError:
        return ()
    return (zstandard.ZstdError,)


def write_spz(
    path: str | Path, gaussians: Gaussians, *, fractional_bits: int = 12, frame: str = DEFAULT_SPZ_FRAME
) -> None:
    """Write Gaussians as an SPZ file (gzip container, version 3), atomically.

    Lossy: see the module docstring for the quantisation. Scales and SH coefficients outside SPZ's ranges are
    clipped with a warning; positions outside it are an error (clipping them would move Gaussians silently).

    Args:
        path: the destination ``.spz`` file.
        gaussians: the Gaussians to write (validated first).
        fractional_bits: fractional bits of the 24-bit fixed-point positions, 1..24: 12 (the default) gives a
            step of 0.24 mm and a range of +-2048 m; each extra bit halves both.
        frame: the axes to store (module docstring): ``rub`` (the spec's) turns the Gaussians, taken in a PLY's
            RDF axes, half a turn about x; ``rdf`` stores them as they are.

    Raises:
        InputError: invalid Gaussians, ``fractional_bits`` out of range, positions beyond the fixed-point range,
            or a destination folder that is missing or not writable. Nothing is written in any of these cases.
    """
    import gsply  # noqa: PLC0415 - numba-compiled codec, imported only when SPZ is used

    path = Path(path)
    _check_frame(frame)
    validate_for_writing(gaussians, path)
    if frame == "rub":
        gaussians = flip_rub_rdf(gaussians)
    if not 1 <= fractional_bits <= 24:
        raise InputError("fractional_bits", f"must be in 1..24 for 24-bit SPZ positions, got {fractional_bits}")
    position_limit = ((1 << 23) - 1) / (1 << fractional_bits)
    farthest = float(np.abs(gaussians.means).max())
    if farthest > position_limit:
        raise InputError(
            path,
            f"not written: a position coordinate of {farthest:.6g} m is beyond SPZ's +-{position_limit:.6g} m "
            f"with fractional_bits={fractional_bits} (lower fractional_bits to widen the range)",
        )
    log_scales = np.log(gaussians.scales)
    _warn_if_clipped(path, "scales (log)", log_scales, _LOG_SCALE_RANGE)
    _warn_if_clipped(path, "DC colour coefficients", gaussians.sh[:, 0, :], _SH0_RANGE)
    _warn_if_clipped(path, "higher SH coefficients", gaussians.sh[:, 1:, :], _SH_REST_RANGE)
    opacities = np.clip(gaussians.opacities.astype(np.float64), 1e-7, 1.0 - 1e-7)  # only keeps the logit finite
    data = gsply.GSData.from_arrays(
        means=gaussians.means,
        scales=log_scales,
        quats=gaussians.quats_wxyz / np.linalg.norm(gaussians.quats_wxyz, axis=1, keepdims=True),
        opacities=(np.log(opacities) - np.log1p(-opacities)).astype(np.float32),
        sh0=np.ascontiguousarray(gaussians.sh[:, 0, :]),
        shN=np.ascontiguousarray(gaussians.sh[:, 1:, :]) if gaussians.sh_degree > 0 else None,
        format="ply",
    )
    with atomic_output(path) as temporary:
        gsply.write_spz(temporary, data, version=3, fractional_bits=fractional_bits)


def _warn_if_clipped(path: Path, what: str, values: np.ndarray, bounds: tuple[float, float]) -> None:
    outside = ((values < bounds[0]) | (values > bounds[1])).reshape(len(values), -1).any(axis=1)
    if outside.any():
        warnings.warn(
            f"{path}: {int(outside.sum())} Gaussian(s) have {what} outside SPZ's range "
            f"[{bounds[0]:.4g}, {bounds[1]:.4g}]; they are clipped",
            stacklevel=3,
        )
