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
    # which backend "auto" picks: test_auto_backend_dispatches_on_the_device_of_the_tensors


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


# --- every documented option reaches its backend (issue 22) -------------------------------------------------------

# gsplat 1.5.3's ``rasterization`` (gsplat/rendering.py, the release on PyPI), read from its source: parameter ->
# default. The gsplat backend targets this API; gsplat 1.6 keeps these names (its tile_size default became None).
GSPLAT_RASTERIZATION_DEFAULTS = {
    "near_plane": 0.01,
    "far_plane": 1e10,
    "radius_clip": 0.0,
    "eps2d": 0.3,
    "sh_degree": None,
    "packed": True,
    "tile_size": 16,
    "backgrounds": None,
    "render_mode": "RGB",
    "sparse_grad": False,
    "absgrad": False,
    "rasterize_mode": "classic",
    "channel_chunk": 32,
    "distributed": False,
    "camera_model": "pinhole",
    "segmented": False,
    "covars": None,
    "with_ut": False,
    "with_eval3d": False,
    "radial_coeffs": None,
    "tangential_coeffs": None,
    "thin_prism_coeffs": None,
    "ftheta_coeffs": None,
    "rolling_shutter": "GLOBAL",
    "viewmats_rs": None,
}
GSPLAT_POSITIONAL = ("means", "quats", "scales", "opacities", "colors", "viewmats", "Ks", "width", "height")


class _OnCuda(torch.Tensor):
    """A CPU tensor that says it lives on a CUDA device: lets the dispatch be tested on a machine without one."""

    @property
    def is_cuda(self) -> bool:
        return True


@pytest.fixture
def fake_gsplat(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """A stand-in ``gsplat`` module (CUDA reported available) whose ``rasterization`` records what it receives,
    refuses keywords gsplat 1.5.3 does not have (as Python would), and returns correctly shaped tensors."""
    import sys
    import types

    from splattwin.render import rasterizer as module

    calls: list[dict] = []

    def rasterization(means, quats, scales, opacities, colors, viewmats, Ks, width, height, **kwargs):
        unknown = set(kwargs) - set(GSPLAT_RASTERIZATION_DEFAULTS)
        if unknown:
            raise TypeError(f"rasterization() got unexpected keyword arguments {sorted(unknown)}")
        calls.append({"args": (means, quats, scales, opacities, colors, viewmats, Ks, width, height), **kwargs})
        mode = kwargs.get("render_mode", "RGB")
        channels = 3 if kwargs.get("sh_degree") is not None else colors.shape[-1]
        channels = {"RGB": channels, "D": 1, "ED": 1}.get(mode, channels + 1)
        cams = viewmats.shape[0]
        return torch.zeros(cams, height, width, channels), torch.zeros(cams, height, width, 1), {"from": "gsplat"}

    fake = types.ModuleType("gsplat")
    fake.rasterization = rasterization
    monkeypatch.setitem(sys.modules, "gsplat", fake)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(module, "_GSPLAT_STATE", {})  # forget a cached "not available"
    return calls


def test_signature_and_defaults_are_gsplats() -> None:
    import inspect

    parameters = inspect.signature(rasterization).parameters
    assert tuple(parameters)[: len(GSPLAT_POSITIONAL)] == GSPLAT_POSITIONAL
    ours = {name: p.default for name, p in parameters.items() if p.default is not inspect.Parameter.empty}
    del ours["backend"]
    assert set(ours) <= set(GSPLAT_RASTERIZATION_DEFAULTS), set(ours) - set(GSPLAT_RASTERIZATION_DEFAULTS)
    for name, default in ours.items():
        assert default == GSPLAT_RASTERIZATION_DEFAULTS[name], name


def test_gsplat_backend_receives_every_option_with_the_callers_value(fake_gsplat: list[dict]) -> None:
    """Each documented option (all of the signature's, so a new one is covered too) at a non-default value, plus
    two gsplat-only keywords, reaches gsplat.rasterization unchanged; the arrays are passed through as given."""
    import inspect

    means, quats, scales, opacities, _, viewmats, Ks, width, height = random_scene(30, 0, None)
    colors = torch.rand(30, 4, 3)
    arrays = [t.as_subclass(_OnCuda) for t in (means, quats, scales, opacities, colors, viewmats, Ks)]
    backgrounds = torch.rand(2, 4)
    options = {
        "near_plane": 0.05,
        "far_plane": 50.0,
        "radius_clip": 0.5,
        "eps2d": 0.1,
        "sh_degree": 1,
        "packed": False,
        "tile_size": 8,
        "backgrounds": backgrounds,
        "render_mode": "RGB+ED",
        "sparse_grad": True,
        "absgrad": True,
        "rasterize_mode": "antialiased",
    }
    documented = [
        name
        for name, p in inspect.signature(rasterization).parameters.items()
        if p.default is not inspect.Parameter.empty and name != "backend"
    ]
    assert sorted(documented) == sorted(options), "give every option of the signature a non-default value here"
    for name in documented:
        assert options[name] != GSPLAT_RASTERIZATION_DEFAULTS[name], name
    extra = {"channel_chunk": 8, "camera_model": "pinhole"}
    out, alphas, meta = rasterization(*arrays, width, height, **options, **extra, backend="gsplat")
    assert len(fake_gsplat) == 1
    call = fake_gsplat[0]
    for given, received in zip([*arrays, width, height], call["args"], strict=True):
        assert received is given
    assert set(call) - {"args"} == set(options) | set(extra)
    for name, value in {**options, **extra}.items():
        assert call[name] is value or call[name] == value, name
    assert meta == {"from": "gsplat"} and out.shape == (2, height, width, 4) and alphas.shape == (2, height, width, 1)


def test_auto_backend_dispatches_on_the_device_of_the_tensors(fake_gsplat: list[dict], monkeypatch) -> None:
    """With gsplat importable and CUDA present: "auto" renders CPU tensors with the CPU kernels (the image is the
    independent reference's, gsplat is never called) and CUDA tensors with gsplat; "cpu" never calls gsplat;
    "gsplat" refuses CPU tensors; without gsplat, "auto" falls back to the CPU kernels for CUDA tensors too."""
    import sys

    from splattwin.errors import InputError
    from splattwin.render import rasterizer as module

    scene = random_scene(400, 3, 1)
    out, alphas, meta = rasterization(*scene, sh_degree=1, backend="auto")
    assert fake_gsplat == []
    assert "max_weight_ids" in meta  # the CPU backend's own key
    ref_out, ref_alphas = reference_rasterization(*scene, sh_degree=1)
    assert float(ref_alphas.mean()) > 0.2
    assert psnr(out, ref_out) >= 40.0 and psnr(alphas, ref_alphas) >= 40.0

    on_cuda = [t.as_subclass(_OnCuda) for t in scene[:7]]
    _, _, meta = rasterization(*on_cuda, *scene[7:], sh_degree=1, backend="auto")
    assert meta == {"from": "gsplat"} and len(fake_gsplat) == 1

    cpu_out, _, _ = rasterization(*on_cuda, *scene[7:], sh_degree=1, backend="cpu")
    assert len(fake_gsplat) == 1
    assert psnr(cpu_out.as_subclass(torch.Tensor), ref_out) >= 40.0
    with pytest.raises(InputError, match="CUDA tensors only"):
        rasterization(*scene, sh_degree=1, backend="gsplat")
    assert len(fake_gsplat) == 1

    monkeypatch.setitem(sys.modules, "gsplat", None)  # import gsplat now fails
    monkeypatch.setattr(module, "_GSPLAT_STATE", {})
    _, _, meta = rasterization(*on_cuda, *scene[7:], sh_degree=1, backend="auto")
    assert "max_weight_ids" in meta and len(fake_gsplat) == 1


def test_render_view_puts_auto_on_cuda_when_gsplat_can_draw(fake_gsplat: list[dict], monkeypatch) -> None:
    """The rasterizer's "auto" dispatches on the tensors' device, so the view renderer must move a view's tensors
    to CUDA for "auto" when gsplat is usable (else "auto" never reaches gsplat), and keep them on the CPU when not."""
    import sys

    from splattwin.render import rasterizer as module
    from splattwin.render.views import _tensor_device

    assert _tensor_device("auto") == "cuda" and _tensor_device("gsplat") == "cuda"
    assert _tensor_device("cpu") == "cpu"
    monkeypatch.setitem(sys.modules, "gsplat", None)
    monkeypatch.setattr(module, "_GSPLAT_STATE", {})
    assert _tensor_device("auto") == "cpu"


def test_cpu_backend_refuses_options_it_cannot_honour() -> None:
    """sparse_grad and absgrad change what gsplat returns (sparse gradients, ``means2d.absgrad``); the CPU kernels
    compute neither, so asking for them is an error, not a silent dense gradient or a missing attribute."""
    from splattwin.errors import InputError

    scene = random_scene(20, 0, None)
    for name in ("sparse_grad", "absgrad"):
        with pytest.raises(InputError, match=name):
            rasterization(*scene, backend="cpu", **{name: True})
    with pytest.raises(InputError, match="channel_chunk"):
        rasterization(*scene, backend="cpu", channel_chunk=8)
    # packed only changes gsplat's memory layout: accepted, same image either way
    packed, _, _ = rasterization(*scene, backend="cpu", packed=True)
    unpacked, _, _ = rasterization(*scene, backend="cpu", packed=False)
    torch.testing.assert_close(packed, unpacked, rtol=0, atol=0)


def test_intrinsics_get_no_gradient() -> None:
    """Ks: "No gradient" (gsplat is not differentiable in Ks); the other inputs still get theirs."""
    means, quats, scales, opacities, colors, viewmats, Ks, width, height = random_scene(50, 1, None)
    Ks = Ks.clone().requires_grad_(True)
    means = means.clone().requires_grad_(True)
    out, _, _ = rasterization(means, quats, scales, opacities, colors, viewmats, Ks, width, height)
    out.sum().backward()
    assert Ks.grad is None
    assert means.grad is not None and float(means.grad.abs().sum()) > 0


def _one_camera(cx: float = 32.5, cy: float = 32.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Identity view (camera at the origin looking down +z) and f = 100 px; a mean on the optical axis projects to
    (cx, cy), the centre of pixel (32, 32) with the defaults."""
    K = torch.tensor([[[100.0, 0, cx], [0, 100.0, cy], [0, 0, 1]]], dtype=torch.float64)
    return torch.eye(4, dtype=torch.float64)[None], K


def test_near_opaque_gaussians_composite_by_hand() -> None:
    """Opacities at and just below 1, common in trained scenes: alpha = min(0.999, o exp(-sigma)) (gsplat's clamp),
    front to back, the pixel stopping before the Gaussian that would take T to <= 1e-4. Hand-computed composite
    of a red Gaussian (o = 1) in front of a green one (o = 0.995) on a blue background, both on the optical axis.
    """
    view, K = _one_camera()
    means = torch.tensor([[0.0, 0.0, 2.0], [0.0, 0.0, 3.0]], dtype=torch.float64)
    quats = torch.tensor([[1.0, 0, 0, 0]] * 2, dtype=torch.float64)
    # isotropic 2D std f s / z: 0.5 px for both (0.01 m at 2 m, 0.015 m at 3 m)
    scales = torch.tensor([[0.01] * 3, [0.015] * 3], dtype=torch.float64)
    colors = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64)
    bg = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)
    red, green, blue = np.eye(3)
    var = 0.5**2 + 0.3  # px^2, the eps2d low-pass included

    def render(opacities):
        out, alphas, _ = rasterization(
            means, quats, scales, torch.tensor(opacities, dtype=torch.float64), colors, view, K, 64, 64, backgrounds=bg
        )
        return out[0].numpy(), alphas[0, ..., 0].numpy()

    out, alphas = render([1.0, 0.995])
    # centre pixel (sigma = 0): the red one is clamped to 0.999, T = 0.001; the green one would take T to 5e-6
    np.testing.assert_allclose(out[32, 32], 0.999 * red + 0.001 * blue, atol=1e-12)
    np.testing.assert_allclose(alphas[32, 32], 0.999, atol=1e-12)
    # one pixel to the right: sigma = 0.5 / var for both, no clamp, both composite
    a1 = 1.0 * math.exp(-0.5 / var)
    a2 = 0.995 * math.exp(-0.5 / var)
    expected = a1 * red + (1 - a1) * a2 * green + (1 - a1) * (1 - a2) * blue
    np.testing.assert_allclose(out[32, 33], expected, atol=1e-12)
    np.testing.assert_allclose(alphas[32, 33], 1 - (1 - a1) * (1 - a2), atol=1e-12)

    # only the green one (o = 0.995 < 0.999: not clamped), the red one made transparent
    out, alphas = render([0.0, 0.995])
    np.testing.assert_allclose(out[32, 32], 0.995 * green + 0.005 * blue, atol=1e-12)
    np.testing.assert_allclose(alphas[32, 32], 0.995, atol=1e-12)


def _clamped_pairs(scene: list) -> int:
    """Number of (pixel, Gaussian) pairs of camera 0 where o exp(-sigma) > 0.999, from the reference's projection."""
    from render_reference import reference_project

    means, quats, scales, opacities, _, viewmats, Ks, width, height = scene
    m2d, conics, _, radii = reference_project(means, quats, scales, viewmats[0], Ks[0], width, height)
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    dx = m2d[None, :, 0] - (xs.reshape(-1, 1) + 0.5)
    dy = m2d[None, :, 1] - (ys.reshape(-1, 1) + 0.5)
    sigma = 0.5 * (conics[:, 0] * dx**2 + conics[:, 2] * dy**2) + conics[:, 1] * dx * dy
    return int(((opacities * torch.exp(-sigma) > 0.999) & (radii > 0)).sum())


def test_near_opaque_gradients_match_the_reference_autograd() -> None:
    """Opacities in [0.95, 1]: where o exp(-sigma) > 0.999 the clamp holds alpha, so no gradient flows through it
    (the reference's torch.clamp), and the transmittance stop cuts pixels short; gradients still agree."""
    scene = list(random_scene(150, 12, 1, torch.float64))
    gen = torch.Generator().manual_seed(4)
    scene[3] = 0.95 + 0.05 * torch.rand(150, generator=gen, dtype=torch.float64)
    scene[3][:40] = 1.0
    scene[2][:40] *= 8.0  # large opaque ones: o exp(-sigma) > 0.999 at a pixel or two each
    params = [scene[i].clone().requires_grad_(True) for i in range(6)]
    rest = scene[6:]
    out, alpha, _ = rasterization(*params, *rest, sh_degree=1)
    ref_out, ref_alpha = reference_rasterization(*params, *rest, sh_degree=1)
    assert _clamped_pairs(scene) >= 5, "the clamp must hold alpha at some (pixel, Gaussian) pairs"
    np.testing.assert_allclose(out.detach().numpy(), ref_out.detach().numpy(), atol=1e-9)
    w_c, w_a = _loss_weights(out.shape), _loss_weights(alpha.shape, 8)
    ours = torch.autograd.grad((out * w_c).sum() + (alpha * w_a).sum(), params)
    ref = torch.autograd.grad((ref_out * w_c).sum() + (ref_alpha * w_a).sum(), params)
    for name, g, r in zip(["means", "quats", "scales", "opacities", "colors", "viewmats"], ours, ref, strict=True):
        scale = float(r.abs().max())
        np.testing.assert_allclose(g.numpy(), r.numpy(), atol=1e-7 * scale + 1e-10, rtol=1e-6, err_msg=name)


def test_antialiased_mode_scales_opacity_by_the_eps2d_compensation() -> None:
    """gsplat's antialiased mode: opacity times sqrt(det(cov2d) / det(cov2d + eps2d I)). One anisotropic Gaussian
    on the optical axis, turned 30 deg about it: cov2d = R diag((f sx / z)^2, (f sy / z)^2) R^T by hand."""
    view, K = _one_camera()
    f, z, sx, sy, eps2d, opacity = 100.0, 2.0, 0.006, 0.014, 0.3, 0.8
    angle = math.radians(30)
    quat = torch.tensor([[math.cos(angle / 2), 0, 0, math.sin(angle / 2)]], dtype=torch.float64)
    scene = (
        torch.tensor([[0.0, 0.0, z]], dtype=torch.float64),
        quat,
        torch.tensor([[sx, sy, 0.01]], dtype=torch.float64),
        torch.tensor([opacity], dtype=torch.float64),
        torch.ones(1, 3, dtype=torch.float64),
        view,
        K,
        64,
        64,
    )
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    cov2d = rot @ np.diag([(f * sx / z) ** 2, (f * sy / z) ** 2]) @ rot.T
    filtered = cov2d + eps2d * np.eye(2)
    compensation = math.sqrt(np.linalg.det(cov2d) / np.linalg.det(filtered))
    assert 0.3 < compensation < 0.5  # a small Gaussian: the filter matters

    def alpha_at(px: int, py: int, scale: float) -> float:
        d = np.array([32.5 - (px + 0.5), 32.5 - (py + 0.5)])
        return scale * opacity * math.exp(-0.5 * d @ np.linalg.inv(filtered) @ d)

    _, classic, _ = rasterization(*scene, eps2d=eps2d, rasterize_mode="classic")
    _, antialiased, meta = rasterization(*scene, eps2d=eps2d, rasterize_mode="antialiased")
    for px, py in ((32, 32), (33, 32), (32, 33), (31, 33)):
        np.testing.assert_allclose(float(classic[0, py, px, 0]), alpha_at(px, py, 1.0), rtol=1e-12)
        np.testing.assert_allclose(float(antialiased[0, py, px, 0]), alpha_at(px, py, compensation), rtol=1e-12)
    np.testing.assert_allclose(float(meta["opacities"][0, 0]), opacity * compensation, rtol=1e-12)


def test_cpu_backend_honours_depth_range_radius_clip_eps2d_and_tile_size() -> None:
    """The documented culling and filter options, by hand on one Gaussian on the optical axis at z = 2 m with a
    0.5 px 2D std (f = 100 px, s = 0.01 m), seen at pixel (31, 31), whose centre is (0.5, 0.5) px off its mean."""
    view, K = _one_camera(32.0, 32.0)
    one = (
        torch.tensor([[0.0, 0.0, 2.0]], dtype=torch.float64),
        torch.tensor([[1.0, 0, 0, 0]], dtype=torch.float64),
        torch.full((1, 3), 0.01, dtype=torch.float64),
        torch.tensor([0.5], dtype=torch.float64),
        torch.ones(1, 3, dtype=torch.float64),
        view,
        K,
        64,
        64,
    )

    def alpha(**options) -> float:
        _, alphas, _ = rasterization(*one, **options)
        return float(alphas[0, 31, 31, 0]) if float(alphas.max()) > 0 else 0.0

    def expected(eps2d: float) -> float:
        return 0.5 * math.exp(-0.5 * (0.5**2 + 0.5**2) / (0.5**2 + eps2d))

    assert alpha() == pytest.approx(expected(0.3), rel=1e-12)
    assert alpha(eps2d=0.1) == pytest.approx(expected(0.1), rel=1e-12)
    # depth range (near, far) around z = 2
    assert alpha(near_plane=1.5, far_plane=2.5) == pytest.approx(expected(0.3), rel=1e-12)
    assert alpha(near_plane=2.5) == 0.0
    assert alpha(far_plane=1.5) == 0.0
    # radius: ceil(3 sqrt(lambda)) with gsplat's lambda = t + sqrt(max(t^2 - det, 0.01)), t the half trace:
    # 0.55 + 0.1 for the isotropic 0.55 px^2 -> ceil(2.42) = 3 px; radius_clip culls radii <= it
    variance = 0.5**2 + 0.3
    radius = math.ceil(3 * math.sqrt(variance + math.sqrt(0.01)))
    assert radius == 3
    _, _, meta = rasterization(*one)
    assert int(meta["radii"][0, 0]) == radius
    assert alpha(radius_clip=radius - 0.5) == pytest.approx(expected(0.3), rel=1e-12)
    assert alpha(radius_clip=float(radius)) == 0.0
    # tile size: the tiles a Gaussian joins decide its fringe pixels; the reference with the same tiles agrees
    scene = random_scene(300, 6, 0)
    for tile_size in (8, 32):
        out, alphas, meta = rasterization(*scene, sh_degree=0, tile_size=tile_size)
        ref_out, ref_alphas = reference_rasterization(*scene, sh_degree=0, tile_size=tile_size)
        assert (meta["tile_size"], meta["tile_width"]) == (tile_size, math.ceil(72 / tile_size))
        assert psnr(out, ref_out) >= 40.0 and psnr(alphas, ref_alphas) >= 40.0
