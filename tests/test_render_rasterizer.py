"""The CPU rasterizer against an independent pure-torch reference (tests/render_reference.py) and finite
differences: images to PSNR >= 40 dB, gradients of every input to the reference's autograd and to central
differences in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from render_reference import reference_rasterization, reference_sh_basis  # noqa: E402

from splattwin.geometry.sh_rotation import eval_sh_basis  # noqa: E402
from splattwin.render import rasterization  # noqa: E402
from splattwin.render._projection import eval_sh_colors  # noqa: E402


def look_at_viewmat(eye, target, dtype=torch.float32) -> torch.Tensor:
    """World-to-camera (OpenCV: x right, y down, z forward) looking from eye at target, world z up."""
    eye, target = np.asarray(eye, float), np.asarray(target, float)
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rot = np.stack([right, down, forward])  # rows: camera axes in world
    view = np.eye(4)
    view[:3, :3] = rot
    view[:3, 3] = -rot @ eye
    return torch.tensor(view, dtype=dtype)


def random_scene(n: int, seed: int, degree: int | None = 3, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    means = torch.rand(n, 3, generator=gen, dtype=dtype) * 2 - 1
    quats = torch.randn(n, 4, generator=gen, dtype=dtype)
    scales = torch.exp(torch.rand(n, 3, generator=gen, dtype=dtype) * 2.0 - 4.5)  # 0.011 .. 0.082 m
    opacities = torch.rand(n, generator=gen, dtype=dtype) * 0.9 + 0.05
    if degree is None:
        colors = torch.rand(n, 3, generator=gen, dtype=dtype)
    else:
        colors = torch.randn(n, (degree + 1) ** 2, 3, generator=gen, dtype=dtype) * 0.3
    viewmats = torch.stack(
        [look_at_viewmat((0.3, -3.0, 1.2), (0, 0, 0), dtype), look_at_viewmat((2.5, 1.5, 1.0), (0.1, 0, 0.1), dtype)]
    )
    width, height = 72, 52
    f = 70.0
    K = torch.tensor([[f, 0, width / 2 - 1.3], [0, f * 1.1, height / 2 + 0.7], [0, 0, 1]], dtype=dtype)
    return means, quats, scales, opacities, colors, viewmats, torch.stack([K, K]), width, height


def psnr(a: torch.Tensor, b: torch.Tensor, peak: float = 1.0) -> float:
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(peak**2 / mse)


def test_sh_colours_match_the_projects_numpy_basis() -> None:
    dirs = torch.randn(50, 3, dtype=torch.float64)
    coeffs = torch.randn(50, 16, 3, dtype=torch.float64)
    expected = np.einsum("nk,nkc->nc", eval_sh_basis((dirs / dirs.norm(dim=-1, keepdim=True)).numpy(), 3), coeffs)
    np.testing.assert_allclose(eval_sh_colors(3, dirs, coeffs).numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(
        reference_sh_basis(dirs / dirs.norm(dim=-1, keepdim=True), 3).numpy(),
        eval_sh_basis((dirs / dirs.norm(dim=-1, keepdim=True)).numpy(), 3),
        atol=1e-12,
    )


@pytest.mark.parametrize(("degree", "mode", "seed"), [(3, "RGB", 0), (0, "RGB+ED", 1), (None, "D", 2), (2, "ED", 3)])
def test_images_match_the_torch_reference(degree: int | None, mode: str, seed: int) -> None:
    scene = random_scene(400, seed, degree)
    channels = {"RGB": 3, "RGB+ED": 4, "D": 1, "ED": 1}[mode]
    backgrounds = torch.rand(2, channels) if mode == "RGB" else None
    colors, alphas, meta = rasterization(*scene, sh_degree=degree, render_mode=mode, backgrounds=backgrounds)
    ref_colors, ref_alphas = reference_rasterization(
        *scene, sh_degree=degree, render_mode=mode, backgrounds=backgrounds
    )
    assert colors.shape == ref_colors.shape == (2, 52, 72, channels)
    assert alphas.shape == (2, 52, 72, 1)
    assert float(alphas.mean()) > 0.2, "scene must cover a good part of the image to be a meaningful test"
    peak = float(ref_colors.abs().max())
    assert psnr(colors, ref_colors, peak) >= 40.0
    assert psnr(alphas, ref_alphas) >= 40.0
    assert meta["radii"].shape == (2, 400)


def test_opaque_scene_stops_where_the_reference_stops() -> None:
    """Many nearly opaque layers: transmittance reaches the 1e-4 cut-off, so the stopping rule decides pixels."""
    means, quats, scales, _, colors, viewmats, Ks, width, height = random_scene(600, 21, 1)
    opacities = torch.full((600,), 0.97)
    scales = scales * 2.0
    scene = (means, quats, scales, opacities, colors, viewmats, Ks, width, height)
    out, alphas, _ = rasterization(*scene, sh_degree=1, render_mode="RGB+ED")
    ref_out, ref_alphas = reference_rasterization(*scene, sh_degree=1, render_mode="RGB+ED")
    assert float((1 - ref_alphas < 1e-3).float().mean()) > 0.1, "scene must saturate pixels"
    assert psnr(out[..., :3], ref_out[..., :3]) >= 40.0
    assert psnr(out[..., 3:], ref_out[..., 3:], float(ref_out[..., 3].max())) >= 40.0
    assert psnr(alphas, ref_alphas) >= 60.0


def test_background_and_empty_pixels() -> None:
    """A pixel no Gaussian reaches shows the background exactly and has alpha 0 (hand-computed)."""
    means = torch.tensor([[0.0, 0.0, 2.0]])
    quats = torch.tensor([[1.0, 0, 0, 0]])
    scales = torch.full((1, 3), 0.01)
    view = torch.eye(4)[None]
    K = torch.tensor([[[100.0, 0, 32], [0, 100.0, 32], [0, 0, 1]]])
    bg = torch.tensor([[0.2, 0.4, 0.6]])
    colors, alphas, _ = rasterization(
        means, quats, scales, torch.tensor([0.5]), torch.ones(1, 3), view, K, 64, 64, backgrounds=bg
    )
    np.testing.assert_allclose(colors[0, 0, 0].numpy(), [0.2, 0.4, 0.6], atol=1e-7)
    assert float(alphas[0, 0, 0, 0]) == 0.0
    # centre pixel (32, 32) covers the mean offset by (0.5, 0.5) px; sigma from the hand-built 2D covariance
    var = (100 * 0.01 / 2.0) ** 2 + 0.3
    sigma = 0.5 * (0.25 + 0.25) / var
    alpha = 0.5 * math.exp(-sigma)
    np.testing.assert_allclose(float(alphas[0, 31, 31, 0]), alpha, rtol=1e-5)
    np.testing.assert_allclose(colors[0, 31, 31].numpy(), alpha + (1 - alpha) * bg[0].numpy(), rtol=1e-5)


def _loss_weights(shape, seed: int = 7) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("mode", ["RGB", "RGB+ED"])
def test_gradients_match_the_reference_autograd(mode: str) -> None:
    scene = list(random_scene(150, 11, 3, torch.float64))
    params = [scene[i].clone().requires_grad_(True) for i in range(6)]
    rest = scene[6:]
    bg = torch.rand(2, 3, dtype=torch.float64)
    out, alpha, _ = rasterization(*params, *rest, sh_degree=3, render_mode=mode, backgrounds=bg)
    w_c, w_a = _loss_weights(out.shape), _loss_weights(alpha.shape, 8)
    ours = torch.autograd.grad((out * w_c).sum() + (alpha * w_a).sum(), params)
    ref_out, ref_alpha = reference_rasterization(*params, *rest, sh_degree=3, render_mode=mode, backgrounds=bg)
    ref = torch.autograd.grad((ref_out * w_c).sum() + (ref_alpha * w_a).sum(), params)
    names = ["means", "quats", "scales", "opacities", "colors", "viewmats"]
    for name, g, r in zip(names, ours, ref, strict=True):
        scale = float(r.abs().max())
        assert scale > 0, name
        np.testing.assert_allclose(g.numpy(), r.numpy(), atol=1e-7 * scale + 1e-10, rtol=1e-6, err_msg=name)


@pytest.mark.slow
def test_gradients_match_central_finite_differences() -> None:
    """d(loss)/d(every parameter of a few Gaussians and the view matrix) vs central differences, float64."""
    scene = list(random_scene(60, 5, 2, torch.float64))
    bg = torch.tensor([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]], dtype=torch.float64)

    def loss(*params: torch.Tensor) -> torch.Tensor:
        out, alpha, _ = rasterization(*params, *scene[6:], sh_degree=2, render_mode="RGB+ED", backgrounds=bg)
        return (out * _loss_weights(out.shape)).sum() + (alpha * _loss_weights(alpha.shape, 8)).sum()

    params = [scene[i].clone().requires_grad_(True) for i in range(6)]
    analytic = torch.autograd.grad(loss(*params), params)
    eps = 1e-6
    rng = np.random.default_rng(0)
    checked = 0
    for index, (param, grad) in enumerate(zip(params, analytic, strict=True)):
        flat = param.detach().reshape(-1)
        picks = rng.choice(flat.numel(), size=min(12, flat.numel()), replace=False)
        for pick in picks:
            values = []
            for sign in (1, -1):
                perturbed = [p.detach().clone() for p in params]
                perturbed[index].view(-1)[pick] += sign * eps
                with torch.no_grad():
                    values.append(float(loss(*perturbed)))
            numeric = (values[0] - values[1]) / (2 * eps)
            exact = float(grad.reshape(-1)[pick])
            assert abs(numeric - exact) <= 1e-5 * max(1.0, abs(exact)), (index, int(pick), numeric, exact)
            checked += 1
    assert checked == 12 * 5 + 12


def test_backend_choice_and_bad_arguments() -> None:
    from splattwin.errors import InputError
    from splattwin.render import gsplat_available

    scene = random_scene(20, 0, None)
    with pytest.raises(InputError, match="backend"):
        rasterization(*scene, backend="opengl")
    with pytest.raises(InputError, match="render_mode"):
        rasterization(*scene, render_mode="normals")
    with pytest.raises(InputError, match="sh_degree"):
        rasterization(*scene[:4], torch.zeros(20, 4, 3), *scene[5:], sh_degree=3)
    if not gsplat_available():
        with pytest.raises(InputError, match="gsplat needs CUDA"):
            rasterization(*scene, backend="gsplat")
    # "auto" on CPU tensors is the CPU backend: same image as asking for it
    auto, _, _ = rasterization(*scene, backend="auto")
    cpu, _, _ = rasterization(*scene, backend="cpu")
    torch.testing.assert_close(auto, cpu)


@pytest.mark.cuda
def test_gsplat_backend_matches_the_cpu_backend() -> None:
    """On a CUDA machine with gsplat: the same scene through gsplat and through the CPU kernels."""
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    pytest.importorskip("gsplat")
    scene = random_scene(400, 4, 3)
    cuda_scene = [t.cuda() if isinstance(t, torch.Tensor) else t for t in scene]
    gpu, gpu_alpha, _ = rasterization(*cuda_scene, sh_degree=3, backend="gsplat", packed=False)
    cpu, cpu_alpha, _ = rasterization(*scene, sh_degree=3, backend="cpu")
    assert psnr(gpu.cpu(), cpu) >= 40.0
    assert psnr(gpu_alpha.cpu(), cpu_alpha) >= 40.0


def test_max_weight_ids_are_the_reference_argmax() -> None:
    """The per-pixel Gaussian with the largest blending weight (what segmentation uses) equals the reference's
    argmax of alpha_i T_i, except at exact ties (none expected in float64 random scenes)."""
    from render_reference import reference_max_weight_ids

    scene = random_scene(300, 9, 0, torch.float64)
    _, _, meta = rasterization(*scene, sh_degree=0)
    expected = reference_max_weight_ids(*scene[:4], *scene[5:])
    ours = meta["max_weight_ids"]
    assert (expected >= 0).float().mean() > 0.2
    assert (ours != expected).sum() == 0
