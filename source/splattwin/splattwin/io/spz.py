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
from splattwin.io._checks import validate_for_writing, validated_after_reading

__all__ = ["read_spz", "write_spz"]

# Value ranges SPZ's bytes can hold; the writer clips anything outside (with a warning).
_LOG_SCALE_RANGE = (-10.0, 255 / 16 - 10.0)
_SH0_RANGE = (-127.5 / (0.15 * 255), 127.5 / (0.15 * 255))
_SH_REST_RANGE = (-1.0, 127 / 128)

# What gsply raises on a corrupt container: ValueError for bad headers and sizes, OSError/EOFError/zlib.error
# from gzip on truncated or garbage streams, struct.error on short headers.
_DECODE_ERRORS = (ValueError, OSError, EOFError, zlib.error, struct.error)


def read_spz(path: str | Path) -> Gaussians:
    """Read a Niantic SPZ file (gzip container v1-v3; v4 needs the ``zstandard`` package).

    Args:
        path: the ``.spz`` file.

    Returns:
        Validated Gaussians with linear scales [m], linear opacities in [0, 1], unit quaternions (w, x, y, z)
        and SH coefficients [N, K, 3], in the frame and units of the file (SPZ's own axes are kept as stored).

    Raises:
        InputError: the file is missing, truncated, not an SPZ file, or decodes to invalid values.
    """
    import gsply  # noqa: PLC0415 - numba-compiled codec, imported only when SPZ is used

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "cannot be read: no such file" if not path.exists() else "cannot be read: not a file")
    try:
        data = gsply.read_spz(path)
    except _DECODE_ERRORS as exc:
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
    return validated_after_reading(gaussians, path)


def write_spz(path: str | Path, gaussians: Gaussians, *, fractional_bits: int = 12) -> None:
    """Write Gaussians as an SPZ file (gzip container, version 3), atomically.

    Lossy: see the module docstring for the quantisation. Scales and SH coefficients outside SPZ's ranges are
    clipped with a warning; positions outside it are an error (clipping them would move Gaussians silently).

    Args:
        path: the destination ``.spz`` file.
        gaussians: the Gaussians to write (validated first).
        fractional_bits: fractional bits of the 24-bit fixed-point positions, 1..24: 12 (the default) gives a
            step of 0.24 mm and a range of +-2048 m; each extra bit halves both.

    Raises:
        InputError: invalid Gaussians, ``fractional_bits`` out of range, positions beyond the fixed-point range,
            or a destination folder that is missing or not writable. Nothing is written in any of these cases.
    """
    import gsply  # noqa: PLC0415 - numba-compiled codec, imported only when SPZ is used

    path = Path(path)
    validate_for_writing(gaussians, path)
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
