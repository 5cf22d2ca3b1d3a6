"""``splattwin fit-appearance`` end to end: a twin's splat refined from rendered images; bad input refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("pxr")

from test_vision_appearance import _cameras, _splat  # noqa: E402

from splattwin.cli import main  # noqa: E402
from splattwin.gaussians import Gaussians, rgb_to_sh0  # noqa: E402
from splattwin.io.ply import write_ply  # noqa: E402
from splattwin.usd.cameras import define_camera  # noqa: E402
from splattwin.usd.stage import edit_twin  # noqa: E402
from splattwin.vision.appearance import render_views  # noqa: E402


def _twin(tmp_path: Path) -> tuple[Path, Gaussians, list[Path]]:
    import imageio.v3 as iio

    truth = _splat()
    cameras = _cameras(4)
    rng = np.random.default_rng(3)
    start = Gaussians(
        means=truth.means, quats_wxyz=truth.quats_wxyz, scales=truth.scales, opacities=truth.opacities,
        sh=rgb_to_sh0(np.clip(truth.colors + rng.normal(0, 0.2, truth.colors.shape), 0.05, 0.95))[:, None],
    )  # fmt: skip
    write_ply(tmp_path / "start.ply", start)
    stage = tmp_path / "twin.usda"
    assert main(["import-splat", "--stage", str(stage), "--prim", "/World/Splat", str(tmp_path / "start.ply")]) == 0
    with edit_twin(stage) as twin, twin.edit_layer("scene"):
        for i, c in enumerate(cameras):
            define_camera(
                twin.stage, f"/World/Cameras/c{i}", K=c.K, width=c.width, height=c.height,
                camera_to_world=np.linalg.inv(c.viewmat),
            )  # fmt: skip
    paths = []
    for i, image in enumerate(render_views(truth, cameras)):
        paths.append(tmp_path / f"c{i}.png")
        iio.imwrite(paths[-1], (image * 255).round().astype(np.uint8))
    return stage, truth, paths


def _snapshot(stage: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(stage.parent.rglob("*.usd*"))}


def test_fit_appearance_cli_end_to_end(tmp_path: Path) -> None:
    from splattwin.usd.splats import read_gaussians_usd

    stage, truth, images = _twin(tmp_path)
    args = ["fit-appearance", "--stage", str(stage), "--prim", "/World/Splat", "--camera", "c0", "c1", "c2", "c3"]
    args += ["--images", *map(str, images), "--held-out", "c3", "--report", str(tmp_path / "r.json")]
    args += ["--comparison", str(tmp_path / "cmp.png"), "--iterations", "150", "--colors-only"]
    assert main(args) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["written"] and report["psnr_after"][0] > report["psnr_before"][0] + 5
    assert (tmp_path / "cmp.png").stat().st_size > 0
    from pxr import Usd

    usd = Usd.Stage.Open(str(stage))
    prim = usd.GetPrimAtPath("/World/Splat")
    provenance = prim.GetCustomDataByKey("splattwin:appearance")
    assert provenance["iterations"] == 150 and len(provenance["images"]) == 4
    fitted = read_gaussians_usd(stage, "/World/Splat")
    assert np.median(np.abs(fitted.colors - truth.colors)) < 0.05


def test_fit_appearance_cli_refuses_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import imageio.v3 as iio

    stage, _, images = _twin(tmp_path)
    iio.imwrite(tmp_path / "small.png", np.zeros((10, 12, 3), np.uint8))
    before = _snapshot(stage)
    base = ["fit-appearance", "--stage", str(stage), "--report", str(tmp_path / "r.json"), "--iterations", "2"]
    cases = [
        (["--prim", "/World/Splat", "--camera", "c0", "--images", str(tmp_path / "small.png")], "12x10"),
        (["--prim", "/World/Splat", "--camera", "c0", "c1", "--images", str(images[0])], "2 cameras"),
        (["--prim", "/World/Nope", "--camera", "c0", "--images", str(images[0])], "not a Gaussians prim"),
        (["--prim", "/World/Splat", "--camera", "c0", "--images", str(images[0]), "--max-residual", "1e-9"],
         "did not converge"),
    ]  # fmt: skip
    for extra, message in cases:
        assert main(base + extra) == 2
        assert message in capsys.readouterr().err
        assert _snapshot(stage) == before
    assert not (tmp_path / "r.json").exists()


def test_fit_appearance_keeps_a_prim_of_its_own_transform_in_place(tmp_path: Path) -> None:
    """A splat prim moved in the stage editor (its own xformOp, Gaussians in its local frame) is fitted where it is
    drawn and written back in its own frame: the transform stays and the world means do not move."""
    from pxr import Gf, Usd, UsdGeom

    from splattwin.usd.prims import local_to_world
    from splattwin.usd.splats import define_gaussians_prim, read_gaussians_prim, read_gaussians_usd

    stage, truth, images = _twin(tmp_path)
    offset = np.array([0.1, -0.05, 0.02])
    with edit_twin(stage) as twin, twin.edit_layer("scene"):
        prim = twin.stage.GetPrimAtPath("/World/Splat")
        local = read_gaussians_prim(prim)
        shifted = Gaussians(local.means - offset, local.quats_wxyz, local.scales, local.opacities, local.sh)
        define_gaussians_prim(twin.stage, "/World/Splat", shifted, custom_data=dict(prim.GetCustomData()))
        UsdGeom.Xformable(prim).AddTranslateOp().Set(Gf.Vec3d(*offset))
    args = ["fit-appearance", "--stage", str(stage), "--prim", "/World/Splat", "--camera", "c0", "c1", "c2", "c3"]
    args += ["--images", *map(str, images), "--held-out", "c3", "--report", str(tmp_path / "r.json")]
    args += ["--iterations", "150", "--colors-only"]
    assert main(args) == 0
    usd = Usd.Stage.Open(str(stage))
    prim = usd.GetPrimAtPath("/World/Splat")
    assert prim
    np.testing.assert_allclose(local_to_world(prim).matrix()[:3, 3], offset, atol=1e-9)
    fitted = read_gaussians_usd(stage, "/World/Splat")
    np.testing.assert_allclose(fitted.means + offset, truth.means, atol=1e-5)
    assert np.median(np.abs(fitted.colors - truth.colors)) < 0.05
