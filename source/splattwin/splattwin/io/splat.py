"""antimatter15 ``.splat`` files (the format of github.com/antimatter15/splat), read and written with NumPy.

Each Gaussian is a 32-byte little-endian record and the file is nothing but records (no header):

- position: 3 x float32 [m];
- scale: 3 x float32, linear [m];
- colour: 4 x uint8 RGBA, ``rgb = clip(0.5 + SH_C0 * sh0, 0, 1) * 255`` and ``a = opacity * 255``;
- rotation: 4 x uint8, the unit quaternion (w, x, y, z) quantised as ``q * 128 + 128`` clipped to 0..255.

The format has only the DC colour: the writer drops higher SH bands and the reader returns degree 0. The writer
rounds to the nearest byte (antimatter15's ``convert.py`` truncates; either decodes the same way) and keeps the
Gaussians in their order (the viewer sorts by importance itself, so no sort is needed). Our own implementation
because no maintained library reads and writes it: gsply (0.4.6) covers PLY, compressed PLY, SPZ and SOG only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from splattwin.errors import InputError
from splattwin.gaussians import Gaussians, rgb_to_sh0, sh0_to_rgb
from splattwin.io._atomic import atomic_output
from splattwin.io._checks import check_memory, validate_for_writing, validated_after_reading

__all__ = ["read_splat", "write_splat"]

_RECORD = np.dtype([("position", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rotation", "u1", 4)])


def read_splat(path: str | Path) -> Gaussians:
    """Read an antimatter15 ``.splat`` file.

    Args:
        path: the ``.splat`` file.

    Returns:
        Validated Gaussians of SH degree 0 with linear scales [m], opacities in [0, 1] (a multiple of 1/255) and
        unit quaternions (w, x, y, z), in the frame and units of the file.

    Raises:
        InputError: the file is missing or empty, its size is not a multiple of 32 bytes, a rotation is stored
            as (128, 128, 128, 128) (the zero quaternion), or it holds NaN/Inf or zero/negative scales.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size == 0:
            raise InputError(path, "is empty (a .splat file holds 32-byte records, one per Gaussian)")
        if size % _RECORD.itemsize:
            raise InputError(
                path,
                f"size of {size} bytes is not a multiple of the 32-byte .splat record "
                f"({size // _RECORD.itemsize} whole records and {size % _RECORD.itemsize} bytes left over: "
                "truncated, or not a .splat file)",
            )
        count = size // _RECORD.itemsize
        # The records, then float32 means, quats, scales, opacities, sh (14 values) and the decoding temporaries.
        check_memory(path, size + count * (14 * 4) * 2, f"reading {count} Gaussians")
        records = np.fromfile(path, dtype=_RECORD)
    except OSError as exc:
        raise InputError(path, f"cannot be read: {exc.strerror or exc}") from exc
    zero = (records["rotation"] == 128).all(axis=1)
    if zero.any():
        raise InputError(
            path,
            f"{int(zero.sum())} Gaussian(s) have rotation bytes (128, 128, 128, 128), which decode to the zero "
            f"quaternion (first at index {int(np.flatnonzero(zero)[0])})",
        )
    gaussians = Gaussians(
        means=records["position"],
        quats_wxyz=(records["rotation"].astype(np.float32) - 128.0) / 128.0,
        scales=records["scale"],
        opacities=records["rgba"][:, 3] / np.float32(255.0),
        sh=rgb_to_sh0(records["rgba"][:, :3] / np.float32(255.0))[:, None, :],
    )
    return validated_after_reading(gaussians, path)


def write_splat(path: str | Path, gaussians: Gaussians) -> None:
    """Write Gaussians as an antimatter15 ``.splat`` file, atomically.

    Lossy: colours and opacities become bytes (error <= 0.5/255 in [0, 1] colour, so <= 0.0070 in ``sh0``, for
    colours inside [0, 1]; colours outside are clipped), quaternion components become bytes (error <= 1/256
    before renormalisation) and SH bands above the DC term are dropped.

    Args:
        path: the destination ``.splat`` file.
        gaussians: the Gaussians to write (validated first).

    Raises:
        InputError: the Gaussians fail validation, or the destination's folder is missing or not writable.
            Nothing is written in either case.
    """
    path = Path(path)
    validate_for_writing(gaussians, path)
    records = np.empty(len(gaussians), dtype=_RECORD)
    records["position"] = gaussians.means
    records["scale"] = gaussians.scales
    records["rgba"][:, :3] = _to_bytes(sh0_to_rgb(gaussians.sh[:, 0, :]) * 255.0)
    records["rgba"][:, 3] = _to_bytes(gaussians.opacities * 255.0)
    quats = gaussians.quats_wxyz.astype(np.float64)
    records["rotation"] = _to_bytes(quats / np.linalg.norm(quats, axis=1, keepdims=True) * 128.0 + 128.0)
    with atomic_output(path) as temporary:
        records.tofile(temporary)


def _to_bytes(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
