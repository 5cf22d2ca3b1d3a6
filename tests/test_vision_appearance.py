"""fit_appearance: SSIM by hand, loss gradient by finite differences, recovery of a perturbed splat's colours."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from splattwin.gaussians import Gaussians, rgb_to_sh0  # noqa: E402
from splattwin.render.camera import look_at_camera  # noqa: E402
from splattwin.vision.appearance import AppearanceConfig, appearance_loss, fit_appearance, ssim  # noqa: E402


def _splat(n: int = 24, seed: int = 0) -> Gaussians:
    rng = np.random.default_rng(seed)
    rgb = rng.uniform(0.1, 0.9, (n, 3))
    return Gaussians(
        means=rng.uniform(-0.3, 0.3, (n, 3)),
        quats_wxyz=np.tile([1.0, 0, 0, 0], (n, 1)),
        scales=np.full((n, 3), 0.08),
        opacities=np.full(n, 0.9),
        sh=rgb_to_sh0(rgb)[:, None, :],
    )


def _cameras(k: int = 6, size: int = 24) -> list:
    out = []
    for i in range(k):
        a = 2 * np.pi * i / k
        eye = (1.6 * np.cos(a), 1.6 * np.sin(a), 0.5 + 0.2 * (i % 2))
        out.append(look_at_camera(eye, (0, 0, 0), width=size, height=size, vertical_fov_deg=45))
    return out


def _render(g: Gaussians, cameras: list) -> np.ndarray:
    from splattwin.render.rasterizer import rasterization

    out = []
    for c in cameras:
        rgb, _, _ = rasterization(
            torch.tensor(g.means), torch.tensor(g.quats_wxyz), torch.tensor(g.scales), torch.tensor(g.opacities),
            torch.tensor(g.sh), torch.tensor(c.viewmat, dtype=torch.float32)[None],
            torch.tensor(c.K, dtype=torch.float32)[None], c.width, c.height, sh_degree=0, backend="cpu",
        )  # fmt: skip
        out.append(rgb[0].clamp(0, 1).numpy())
    return np.stack(out)


def test_ssim_hand_computed() -> None:
    # window 1 (sigma irrelevant, kernel [[1]]): SSIM per pixel = ((2xy + C1) * C2) / ((x^2 + y^2 + C1) * C2)
    a = torch.tensor([[[0.2]], [[0.8]]], dtype=torch.float64).reshape(2, 1, 1)
    b = torch.tensor([[[0.4]], [[0.8]]], dtype=torch.float64).reshape(2, 1, 1)
    c1 = 0.01**2
    expected = np.mean([(2 * 0.2 * 0.4 + c1) / (0.04 + 0.16 + c1), 1.0])
    assert float(ssim(a, b, window=1)) == pytest.approx(expected, rel=1e-12)
    # 3x3 window on a 3x3 image with zero padding: centre pixel moments by hand
    x = torch.zeros(3, 3, 1, dtype=torch.float64)
    x[1, 1] = 1.0
    assert float(ssim(x, x)) == pytest.approx(1.0)
    y = torch.full((3, 3, 1), 0.5, dtype=torch.float64)
    assert float(ssim(y, y)) == pytest.approx(1.0)
    assert float(ssim(x, y)) < 0.5


def test_loss_gradient_matches_finite_differences() -> None:
    torch.manual_seed(0)
    from splattwin.render.rasterizer import rasterization

    g = _splat(6)
    cam = _cameras(1, 12)[0]
    target = torch.rand(12, 12, 3, dtype=torch.float32)
    sh = torch.tensor(g.sh, dtype=torch.float32, requires_grad=True)

    def loss_of(colors: torch.Tensor) -> torch.Tensor:
        rgb, _, _ = rasterization(
            torch.tensor(g.means), torch.tensor(g.quats_wxyz), torch.tensor(g.scales), torch.tensor(g.opacities),
            colors, torch.tensor(cam.viewmat, dtype=torch.float32)[None],
            torch.tensor(cam.K, dtype=torch.float32)[None], 12, 12, sh_degree=0, backend="cpu",
        )  # fmt: skip
        return appearance_loss(rgb[0], target)

    loss_of(sh).backward()
    h = 1e-2
    for i, ch in [(0, 0), (2, 1), (4, 2), (5, 0)]:
        plus, minus = sh.detach().clone(), sh.detach().clone()
        plus[i, 0, ch] += h
        minus[i, 0, ch] -= h
        fd = (float(loss_of(plus)) - float(loss_of(minus))) / (2 * h)
        assert sh.grad[i, 0, ch].item() == pytest.approx(fd, rel=0.05, abs=2e-5)


def test_recovers_perturbed_colours_and_opacities() -> None:
    truth = _splat()
    cameras = _cameras(6)
    images = _render(truth, cameras)
    rng = np.random.default_rng(1)
    start_rgb = np.clip(truth.colors + rng.normal(0, 0.2, truth.colors.shape), 0.05, 0.95)
    start = Gaussians(
        means=truth.means, quats_wxyz=truth.quats_wxyz, scales=truth.scales,
        opacities=np.clip(truth.opacities - rng.uniform(0, 0.4, len(truth)), 0.3, 1), sh=rgb_to_sh0(start_rgb)[:, None],
    )  # fmt: skip
    cfg = AppearanceConfig(iterations=200, fit_geometry=False, prune_opacity=0.0)
    result = fit_appearance(start, cameras, images, config=cfg, held_out=[5])
    assert result.converged
    assert result.psnr_after[0] > 30.0 > result.psnr_before[0]
    assert result.ssim_after[0] > result.ssim_before[0]
    err = np.abs(result.gaussians.colors - truth.colors)
    assert np.median(err) < 0.03


def test_bad_input_is_refused() -> None:
    from splattwin.errors import InputError

    cameras = _cameras(2)
    with pytest.raises(InputError, match="image 1 is"):
        fit_appearance(_splat(), cameras, [np.zeros((24, 24, 3)), np.zeros((20, 24, 3))])
    bad = np.zeros((2, 24, 24, 3))
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        fit_appearance(_splat(), cameras, bad)
    with pytest.raises(InputError, match="2 cameras but 1"):
        fit_appearance(_splat(), cameras, bad[:1])
