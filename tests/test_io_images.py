"""Image sequences (io/images.py): real files written by imageio, hand-computed timestamps and interpolation."""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as iio2
import imageio.v3 as iio
import numpy as np
import pytest

from splattwin.errors import InputError
from splattwin.io.images import check_frames_match, read_frames, sample_joints
from splattwin.io.trajectory import Trajectory
from splattwin.render.camera import look_at_camera


def _frames_folder(folder: Path, count: int = 3, size: tuple[int, int] = (8, 6)) -> list[np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    width, height = size
    images = []
    for i in range(count):
        image = np.zeros((height, width, 3), np.uint8)
        image[..., 0] = 10 * i
        image[1, 2] = (255, 128, 0)
        iio.imwrite(folder / f"f{i * 5}.png", image)  # f0, f5, f10: sorted as numbers, not as text
        images.append(image)
    return images


def test_folder_with_fps_reads_pngs_in_numeric_order(tmp_path: Path) -> None:
    written = _frames_folder(tmp_path / "cam0")
    frames = read_frames(tmp_path / "cam0", fps=4.0)
    assert frames.names == ("f0.png", "f5.png", "f10.png")
    assert frames.images.shape == (3, 6, 8, 3) and frames.images.dtype == np.float32
    np.testing.assert_allclose(frames.images, np.stack(written) / 255.0, atol=1e-7)
    np.testing.assert_allclose(frames.timestamps, [0.0, 0.25, 0.5])
    assert frames.masks is None and frames.size == (8, 6)


def test_timestamps_csv_by_name_and_in_order(tmp_path: Path) -> None:
    _frames_folder(tmp_path / "cam")
    (tmp_path / "cam" / "timestamps.csv").write_text("name,time\nf10.png,1.5\nf0.png,0.25\nf5.png,0.75\n")
    np.testing.assert_allclose(read_frames(tmp_path / "cam").timestamps, [0.25, 0.75, 1.5])
    (tmp_path / "cam" / "timestamps.csv").write_text("time\n0.1\n0.2\n0.4\n")
    np.testing.assert_allclose(read_frames(tmp_path / "cam").timestamps, [0.1, 0.2, 0.4])


def test_timestamps_must_increase(tmp_path: Path) -> None:
    _frames_folder(tmp_path / "cam")
    (tmp_path / "cam" / "timestamps.csv").write_text("time\n0.1\n0.3\n0.3\n")
    with pytest.raises(InputError, match=r"timestamps.csv: timestamps must increase: frame 2"):
        read_frames(tmp_path / "cam")


def test_folder_without_timestamps_or_fps_is_refused(tmp_path: Path) -> None:
    _frames_folder(tmp_path / "cam")
    with pytest.raises(InputError, match=r"cam: has no timestamps.csv .*--fps"):
        read_frames(tmp_path / "cam")


def test_alpha_channel_and_mask_folder(tmp_path: Path) -> None:
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 3] = 0
    rgba[1:3, 2:4, 3] = 255
    iio.imwrite(tmp_path / "one.png", rgba)
    frames = read_frames(tmp_path / "one.png")
    assert frames.masks is not None and frames.masks.sum() == 4 and frames.masks[0, 1, 2] and not frames.masks[0, 0, 0]
    np.testing.assert_array_equal(frames.timestamps, [0.0])
    masks = tmp_path / "masks"
    masks.mkdir()
    mask = np.zeros((4, 5), np.uint8)
    mask[0, 0] = 255
    iio.imwrite(masks / "one.png", mask)
    frames = read_frames(tmp_path / "one.png", masks=masks)
    assert frames.masks is not None and frames.masks[0].sum() == 1 and frames.masks[0, 0, 0]


def test_mask_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    _frames_folder(tmp_path / "cam", count=1)
    masks = tmp_path / "masks"
    masks.mkdir()
    iio.imwrite(masks / "f0.png", np.zeros((3, 3), np.uint8))
    with pytest.raises(InputError, match=r"f0.png: mask is 3x3 px but the frames of .* are 8x6"):
        read_frames(tmp_path / "cam", fps=1.0, masks=masks)


def test_frames_of_different_sizes_name_the_file(tmp_path: Path) -> None:
    _frames_folder(tmp_path / "cam", count=2)
    iio.imwrite(tmp_path / "cam" / "f7.png", np.zeros((5, 8, 3), np.uint8))
    with pytest.raises(InputError, match=r"f7.png: is 8x5 px but the first frame"):
        read_frames(tmp_path / "cam", fps=1.0)


def test_unreadable_image_names_the_file(tmp_path: Path) -> None:
    _frames_folder(tmp_path / "cam", count=2)
    (tmp_path / "cam" / "f2.png").write_bytes(b"not a png at all")
    with pytest.raises(InputError, match=r"f2.png: cannot be read as an image"):
        read_frames(tmp_path / "cam", fps=1.0)


def test_video_frames_and_timestamps_from_its_fps(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    writer = iio2.get_writer(path, fps=12.5, codec="libx264", macro_block_size=1, quality=10, pixelformat="yuv444p")
    levels = [0, 60, 120, 180, 240]
    for level in levels:
        writer.append_data(np.full((16, 24, 3), level, np.uint8))
    writer.close()
    frames = read_frames(path)
    assert frames.images.shape == (5, 16, 24, 3)
    np.testing.assert_allclose(frames.timestamps, np.arange(5) / 12.5)
    np.testing.assert_allclose(frames.images[:, 8, 12, 0] * 255, levels, atol=3)  # lossy codec: a few levels
    np.testing.assert_allclose(read_frames(path, fps=30.0).timestamps, np.arange(5) / 30.0)


def test_empty_and_broken_videos(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty.mp4: is an empty video"):
        read_frames(tmp_path / "empty.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 4096)
    with pytest.raises(InputError, match=r"junk.mp4: "):
        read_frames(tmp_path / "junk.mp4")


def test_bad_fps_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"--fps: must be a positive"):
        read_frames(tmp_path, fps=0.0)
    with pytest.raises(InputError, match=r"nope: no such image"):
        read_frames(tmp_path / "nope")


def test_sample_joints_interpolates_linearly_by_hand() -> None:
    log = Trajectory(
        times=np.array([0.0, 1.0, 3.0]),
        positions=np.array([[0.0, 1.0], [2.0, 1.0], [2.0, -3.0]]),
        joint_names=["a", "b"],
    )
    q = sample_joints(log, [0.0, 0.25, 1.0, 2.0, 3.0])
    # a: 0 -> 2 over [0, 1], then flat; b: flat, then 1 -> -3 over [1, 3] (2.0 is half-way: -1).
    np.testing.assert_allclose(q, [[0.0, 1.0], [0.5, 1.0], [2.0, 1.0], [2.0, -1.0], [2.0, -3.0]])
    with pytest.raises(InputError, match=r"video.mp4: frame 1 at t=3.5 s is outside the joint log"):
        sample_joints(log, [1.0, 3.5], source="video.mp4")
    with pytest.raises(InputError, match=r"outside"):
        sample_joints(log, [-0.01])


def test_check_frames_match_names_the_camera(tmp_path: Path) -> None:
    _frames_folder(tmp_path / "cam", count=1)
    frames = read_frames(tmp_path / "cam", fps=1.0)
    check_frames_match(frames, look_at_camera((1, 0, 0), (0, 0, 0), width=8, height=6))
    with pytest.raises(InputError, match=r"cam: frames are 8x6 px but camera 'left' is 640x480"):
        check_frames_match(frames, look_at_camera((1, 0, 0), (0, 0, 0)), name="left")
