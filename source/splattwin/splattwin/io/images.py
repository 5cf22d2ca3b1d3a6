"""Image sequences: one image, a folder of frames or a video, with timestamps, synchronised with a joint log.

:func:`read_frames` gives :class:`Frames`: RGB float32 images in [0, 1], optional masks, and strictly increasing
timestamps in seconds. Where the timestamps come from:

- a folder of frames (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``, ``.tif``, ``.tiff``, sorted by name with numbers
  compared as numbers: ``f2.png`` before ``f10.png``): a ``timestamps.csv`` beside them, with a header
  ``name,time`` (one row per frame, any order) or ``time`` (one row per frame, in the sorted order); without one,
  frame i is at ``i / fps`` and ``fps`` must be given;
- a video (``.mp4``, ``.mov``, ``.avi``, ``.mkv``, ``.webm``, read with imageio's ffmpeg plugin): frame i is at
  ``i / fps``, ``fps`` from the video's own metadata unless given;
- one image file: one frame at t = 0.

Masks come from an alpha channel (alpha >= 0.5 is inside) or from ``masks=``: a folder of mask images, matched to
the frames by file stem (``0001.png`` -> ``0001.*``) or, when no stems match, by sorted order (a video's
frames), or one mask file for one image. A mask pixel is inside where its value is at least half the maximum of
its data type.

:func:`sample_joints` interpolates a :class:`~splattwin.io.trajectory.Trajectory` at frame times (linearly, per
joint), refusing times outside the log. :func:`check_frames_match` refuses frames whose size is not a camera's.
Every problem is an :class:`~splattwin.errors.InputError` naming the file.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from splattwin.errors import InputError
from splattwin.geometry.camera import Camera
from splattwin.io._checks import check_memory

if TYPE_CHECKING:
    from splattwin.io.trajectory import Trajectory

__all__ = [
    "IMAGE_SUFFIXES",
    "TIMESTAMPS_FILE",
    "VIDEO_SUFFIXES",
    "Frames",
    "check_frames_match",
    "read_mask",
    "read_frames",
    "sample_joints",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm")
TIMESTAMPS_FILE = "timestamps.csv"
"""The file beside a folder's frames that gives their times (see the module docstring)."""


@dataclass(frozen=True)
class Frames:
    """An image sequence from one camera.

    Attributes:
        images: [T, H, W, 3] float32 RGB in [0, 1].
        masks: [T, H, W] bool (True: the object / foreground), or None when there was none.
        timestamps: [T] float64 seconds, strictly increasing.
        names: [T] frame names (file names of a folder's frames, ``<video>#<i>`` for a video's).
        source: the file or folder they were read from.
    """

    images: np.ndarray
    masks: np.ndarray | None
    timestamps: np.ndarray
    names: tuple[str, ...]
    source: Path

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) [px]."""
        return int(self.images.shape[2]), int(self.images.shape[1])

    def __len__(self) -> int:
        return int(self.images.shape[0])


def _natural_key(name: str) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _to_rgb(data: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """[H, W, 3] float32 in [0, 1] and the alpha mask [H, W] (or None) from a decoded image of any depth."""
    if data.ndim == 2:
        data = data[..., None]
    if data.ndim != 3 or data.shape[2] not in (1, 2, 3, 4) or data.shape[0] == 0 or data.shape[1] == 0:
        raise InputError(path, f"is not a 2D grey, RGB or RGBA image (decoded shape {data.shape})")
    if np.issubdtype(data.dtype, np.integer):
        scaled = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    elif np.issubdtype(data.dtype, np.floating):
        scaled = data.astype(np.float32)
        if not np.isfinite(scaled).all():
            raise InputError(path, "has NaN or Inf pixel values")
        scaled = np.clip(scaled, 0.0, 1.0)
    elif data.dtype == np.bool_:
        scaled = data.astype(np.float32)
    else:
        raise InputError(path, f"has pixels of type {data.dtype}, not integers or floats")
    channels = scaled.shape[2]
    colour = scaled[..., :3] if channels >= 3 else np.repeat(scaled[..., :1], 3, axis=2)
    alpha = scaled[..., -1] >= 0.5 if channels in (2, 4) else None
    return np.ascontiguousarray(colour), alpha


def _decode(path: Path) -> np.ndarray:
    import imageio.v3 as iio  # noqa: PLC0415

    if not path.is_file():
        raise InputError(path, "no such image file")
    try:
        return np.asarray(iio.imread(path, extension=path.suffix.lower()))
    except Exception as exc:  # noqa: BLE001 (imageio's plugins raise anything from OSError to RuntimeError)
        raise InputError(path, f"cannot be read as an image ({type(exc).__name__}: {_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else "no detail"


def _read_mask(path: Path) -> np.ndarray:
    data = _decode(path)
    if data.ndim == 3:
        # A mask saved as RGB(A): any channel counts; an alpha channel alone decides when present.
        data = data[..., -1] if data.shape[2] in (2, 4) else data.max(axis=2)
    if data.ndim != 2:
        raise InputError(path, f"is not a 2D mask image (decoded shape {data.shape})")
    if data.dtype == np.bool_:
        return data.copy()
    top = float(np.iinfo(data.dtype).max) if np.issubdtype(data.dtype, np.integer) else 1.0
    return data.astype(np.float64) >= 0.5 * top


def read_mask(path: str | Path) -> np.ndarray:
    """[H, W] bool mask of one mask image (inside where a value is at least half its type's maximum; an alpha
    channel alone decides when present). Raises :class:`InputError` naming a missing or unreadable file."""
    return _read_mask(Path(path))


def _check_times(times: np.ndarray, source: Path) -> None:
    if not np.isfinite(times).all():
        raise InputError(source, f"timestamp {int(np.argmin(np.isfinite(times)))} is NaN or Inf")
    steps = np.diff(times)
    if (steps <= 0).any():
        i = int(np.argmax(steps <= 0))
        raise InputError(
            source, f"timestamps must increase: frame {i + 1} has t={times[i + 1]} after t={times[i]} (frame {i})"
        )


def _check_fps(fps: float | None) -> None:
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise InputError("--fps", f"must be a positive number of frames per second, got {fps}")


def _read_timestamps_csv(path: Path, names: Sequence[str]) -> np.ndarray:
    """Times [T] of the frames ``names`` (sorted order) from a ``timestamps.csv`` (see the module docstring)."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    rows = [row for row in rows if row and any(cell.strip() for cell in row)]
    if not rows:
        raise InputError(path, "is empty; expected a header 'name,time' or 'time' and one row per frame")
    header = [cell.strip().lower() for cell in rows[0]]
    body = rows[1:]
    if header not in (["name", "time"], ["time"]):
        raise InputError(path, f"header must be 'name,time' or 'time', got {','.join(rows[0])!r}")
    values: dict[str, float] = {}
    ordered: list[float] = []
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise InputError(path, f"line {line} has {len(row)} values, the header has {len(header)}")
        try:
            time = float(row[-1])
        except ValueError:
            raise InputError(path, f"line {line}: time {row[-1]!r} is not a number") from None
        if not math.isfinite(time):
            raise InputError(path, f"line {line}: time is {row[-1]}")
        if len(header) == 2:
            name = row[0].strip()
            if name in values:
                raise InputError(path, f"line {line}: frame {name!r} is listed twice")
            values[name] = time
        else:
            ordered.append(time)
    if len(header) == 1:
        if len(ordered) != len(names):
            raise InputError(path, f"has {len(ordered)} times for {len(names)} frames")
        times = np.asarray(ordered, dtype=np.float64)
    else:
        missing = [name for name in names if name not in values]
        if missing:
            raise InputError(path, f"gives no time for frame {missing[0]!r} ({len(missing)} frame(s) without one)")
        extra = sorted(set(values) - set(names))
        if extra:
            raise InputError(path, f"lists {extra[0]!r}, which is not a frame in {path.parent}")
        times = np.asarray([values[name] for name in names], dtype=np.float64)
    _check_times(times, path)
    return times


def _stack(
    decoded: list[tuple[np.ndarray, np.ndarray | None]], files: Sequence[Path | str], source: Path
) -> tuple[np.ndarray, np.ndarray | None]:
    height, width = decoded[0][0].shape[:2]
    for (image, _), file in zip(decoded, files, strict=True):
        if image.shape[:2] != (height, width):
            raise InputError(
                file,
                f"is {image.shape[1]}x{image.shape[0]} px but the first frame of {source} is {width}x{height}",
            )
    images = np.stack([image for image, _ in decoded])
    alphas = [alpha for _, alpha in decoded]
    masks = np.stack(alphas) if all(alpha is not None for alpha in alphas) else None
    return images, masks


def _read_folder(folder: Path, fps: float | None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, list[Path]]:
    files = sorted(
        (entry for entry in folder.iterdir() if entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES),
        key=lambda entry: _natural_key(entry.name),
    )
    if not files:
        raise InputError(folder, f"holds no image frames ({', '.join(IMAGE_SUFFIXES)})")
    stamps = folder / TIMESTAMPS_FILE
    if stamps.is_file():
        times = _read_timestamps_csv(stamps, [file.name for file in files])
    elif fps is None:
        raise InputError(folder, f"has no {TIMESTAMPS_FILE} beside its frames; give the frame rate (--fps)")
    else:
        times = np.arange(len(files), dtype=np.float64) / fps
    first = _to_rgb(_decode(files[0]), files[0])
    check_memory(folder, first[0].nbytes * len(files), f"{len(files)} frames")
    decoded = [first] + [_to_rgb(_decode(file), file) for file in files[1:]]
    images, masks = _stack(decoded, files, folder)
    return images, masks, times, files


def _read_video(path: Path, fps: float | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    import imageio.v2 as iio2  # noqa: PLC0415

    if path.stat().st_size == 0:
        raise InputError(path, "is an empty video (0 bytes)")
    try:
        reader = iio2.get_reader(str(path), format="FFMPEG")
    except Exception as exc:  # noqa: BLE001 (ffmpeg's failures arrive as OSError, RuntimeError or IndexError)
        raise InputError(path, f"cannot be opened as a video ({type(exc).__name__}: {_first_line(exc)})") from None
    decoded: list[tuple[np.ndarray, np.ndarray | None]] = []
    try:
        meta = reader.get_meta_data()
        rate = fps if fps is not None else meta.get("fps")
        if rate is None or not (math.isfinite(float(rate)) and float(rate) > 0):
            raise InputError(path, f"has no usable frame rate in its metadata ({rate!r}); give --fps")
        try:
            for frame in reader:
                image, _ = _to_rgb(np.asarray(frame), path)
                if decoded and image.shape != decoded[0][0].shape:
                    raise InputError(path, f"frame {len(decoded)} changes size to {image.shape[1]}x{image.shape[0]}")
                if not decoded:
                    # Refuse a video too large for memory before holding it: duration x rate frames of this size.
                    estimate = int(float(meta.get("duration") or 0.0) * float(rate)) + 1
                    check_memory(path, image.nbytes * estimate, f"about {estimate} frames")
                decoded.append((image, None))
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise InputError(
                path, f"cannot be decoded after frame {len(decoded)} ({type(exc).__name__}: {_first_line(exc)})"
            ) from None
    finally:
        reader.close()
    if not decoded:
        raise InputError(path, "is an empty video (no frames decoded)")
    images = np.stack([image for image, _ in decoded])
    times = np.arange(len(decoded), dtype=np.float64) / float(rate)
    return images, times, [f"{path.name}#{i}" for i in range(len(decoded))]


def _match_masks(masks_path: Path, names: Sequence[str], shape: tuple[int, int], source: Path) -> np.ndarray:
    """[T, H, W] bool from a mask folder (by stem, else by sorted order) or a single mask file."""
    if masks_path.is_file():
        if len(names) != 1:
            raise InputError(masks_path, f"is one mask file for {len(names)} frames; give a folder of masks")
        files = [masks_path]
    elif masks_path.is_dir():
        available = sorted(
            (entry for entry in masks_path.iterdir() if entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES),
            key=lambda entry: _natural_key(entry.name),
        )
        by_stem = {entry.stem: entry for entry in available}
        stems = [Path(name).stem for name in names]
        if any(stem in by_stem for stem in stems):
            missing = [name for name, stem in zip(names, stems, strict=True) if stem not in by_stem]
            if missing:
                raise InputError(masks_path, f"has no mask for frame {missing[0]!r} ({len(missing)} missing)")
            files = [by_stem[stem] for stem in stems]
        elif len(available) == len(names):
            files = available
        else:
            raise InputError(
                masks_path, f"holds {len(available)} masks whose names match none of the {len(names)} frames"
            )
    else:
        raise InputError(masks_path, "no such mask file or folder")
    masks = []
    for file in files:
        mask = _read_mask(file)
        if mask.shape != shape:
            raise InputError(
                file, f"mask is {mask.shape[1]}x{mask.shape[0]} px but the frames of {source} are {shape[1]}x{shape[0]}"
            )
        masks.append(mask)
    return np.stack(masks)


def read_frames(path: str | Path, *, fps: float | None = None, masks: str | Path | None = None) -> Frames:
    """Read one image, a folder of frames or a video (see the module docstring for timestamps and masks).

    Args:
        path: an image file, a folder of frames or a video file.
        fps: frames per second: required for a folder without ``timestamps.csv``; overrides a video's own rate.
        masks: a folder of mask images (or one mask file for one image); overrides an alpha channel.

    Returns:
        The :class:`Frames` (images [T, H, W, 3] float32 in [0, 1]).

    Raises:
        InputError: a missing or unreadable file, no frames, an empty video, frames or masks of different sizes,
            timestamps that are missing, malformed or not strictly increasing, a bad ``fps`` (message names
            the file).
    """
    path = Path(path)
    if fps is not None:
        fps = float(fps)
    _check_fps(fps)
    if path.is_dir():
        images, alpha, times, files = _read_folder(path, fps)
        names = [file.name for file in files]
    elif path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
        images, times, names = _read_video(path, fps)
        alpha = None
    elif path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        images, alpha = _to_rgb(_decode(path), path)
        images, alpha = images[None], None if alpha is None else alpha[None]
        times, names = np.zeros(1), [path.name]
    elif path.is_file():
        supported = ", ".join(IMAGE_SUFFIXES + VIDEO_SUFFIXES)
        raise InputError(path, f"unsupported image or video suffix {path.suffix!r}; supported: {supported}")
    else:
        raise InputError(path, "no such image, folder of frames or video")
    mask_array = alpha if masks is None else _match_masks(Path(masks), names, images.shape[1:3], path)
    return Frames(
        images=images.astype(np.float32, copy=False),
        masks=mask_array,
        timestamps=np.asarray(times, dtype=np.float64),
        names=tuple(names),
        source=path,
    )


def sample_joints(
    trajectory: Trajectory, timestamps: np.ndarray | Sequence[float], *, source: str | Path | None = None
) -> np.ndarray:
    """Joint values at the frame times: linear interpolation of each joint between the log's samples.

    Args:
        trajectory: the robot's joint log (times [N] s, positions [N, J]).
        timestamps: [T] seconds, on the log's clock.
        source: what to name in an error (the image folder or video); default ``timestamps``.

    Returns:
        [T, J] float64 joint values (rad or m), column j for ``trajectory.joint_names[j]``.

    Raises:
        InputError: a time outside ``[times[0], times[-1]]`` (extrapolating a log is never silent), or NaN.
    """
    where = "timestamps" if source is None else source
    times = np.asarray(timestamps, dtype=np.float64).reshape(-1)
    log_t = np.asarray(trajectory.times, dtype=np.float64)
    log_q = np.asarray(trajectory.positions, dtype=np.float64)
    if not np.isfinite(times).all():
        raise InputError(where, "has NaN or Inf times")
    outside = (times < log_t[0]) | (times > log_t[-1])
    if outside.any():
        i = int(np.argmax(outside))
        raise InputError(
            where,
            f"frame {i} at t={times[i]:.6g} s is outside the joint log's [{log_t[0]:.6g}, {log_t[-1]:.6g}] s "
            "(shift the clocks so the frames fall inside the log)",
        )
    if log_q.ndim != 2 or log_q.shape[0] != log_t.shape[0]:
        raise InputError(where, f"joint log positions have shape {log_q.shape} for {log_t.shape[0]} times")
    return np.stack([np.interp(times, log_t, log_q[:, j]) for j in range(log_q.shape[1])], axis=1).reshape(
        len(times), log_q.shape[1]
    )


def check_frames_match(frames: Frames, camera: Camera, *, name: str | None = None) -> None:
    """Refuse frames whose image size is not the camera's.

    Args:
        frames: the image sequence.
        camera: the camera that took it (``width`` x ``height`` px).
        name: the camera's name for the message (``/World/Cameras/<name>``).

    Raises:
        InputError: naming ``frames.source``, with both sizes.
    """
    width, height = frames.size
    if (width, height) != (int(camera.width), int(camera.height)):
        which = f"camera {name!r}" if name else "the camera"
        raise InputError(
            frames.source,
            f"frames are {width}x{height} px but {which} is {camera.width}x{camera.height} px "
            "(a different camera, or resized images)",
        )
