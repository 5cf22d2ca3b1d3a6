"""An independent pure-torch splat renderer with gsplat's reference semantics (``gsplat.cuda._torch_impl``).

Written for the tests (and the benchmark's baseline) without the code under test: the projection builds the
perspective Jacobian as a matrix and inverts the 2D covariance with ``torch.linalg.inv``; compositing is
dense per pixel over all Gaussians (or over a (pixel, Gaussian) pair list), with transmittance from
``cumprod`` and gsplat's rules: pixel centres at +0.5, alpha = min(0.999, o exp(-sigma)), alpha < 1/255 or
sigma < 0 skipped, a pixel stops before the Gaussian that takes T to <= 1e-4, Gaussians limited to the tiles
their 3-sigma radius touches. Autograd gives its gradients.
"""

from __future__ import annotations

import math

import torch

__all__ = ["reference_project", "reference_rasterization", "reference_sh_basis"]

SH_CONSTANTS = {
    0: [0.28209479177387814],
    1: [0.4886025119029199],
    2: [1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396],
    3: [
        -0.5900435899266435,
        2.890611442640554,
        -0.4570457994644658,
        0.3731763325901154,
        -0.4570457994644658,
        1.445305721320277,
        -0.5900435899266435,
    ],
}


def reference_sh_basis(dirs: torch.Tensor, degree: int) -> torch.Tensor:
    """[..., 3] unit directions -> [..., (degree+1)^2] real SH basis (3DGS order and signs)."""
    x, y, z = dirs[..., 0], dirs[..., 1], dirs[..., 2]
    c = SH_CONSTANTS
    terms = [torch.full_like(x, c[0][0])]
    if degree >= 1:
        terms += [-c[1][0] * y, c[1][0] * z, -c[1][0] * x]
    if degree >= 2:
        terms += [
            c[2][0] * x * y,
            c[2][1] * y * z,
            c[2][2] * (2 * z**2 - x**2 - y**2),
            c[2][3] * x * z,
            c[2][4] * (x**2 - y**2),
        ]
    if degree >= 3:
        terms += [
            c[3][0] * y * (3 * x**2 - y**2),
            c[3][1] * x * y * z,
            c[3][2] * y * (4 * z**2 - x**2 - y**2),
            c[3][3] * z * (2 * z**2 - 3 * x**2 - 3 * y**2),
            c[3][4] * x * (4 * z**2 - x**2 - y**2),
            c[3][5] * z * (x**2 - y**2),
            c[3][6] * x * (x**2 - 3 * y**2),
        ]
    return torch.stack(terms, dim=-1)


def _rotmat(quats: torch.Tensor) -> torch.Tensor:
    q = quats / quats.norm(dim=-1, keepdim=True)
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    rows = [
        [w * w + x * x - y * y - z * z, 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), w * w - x * x + y * y - z * z, 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), w * w - x * x - y * y + z * z],
    ]
    return torch.stack([torch.stack(r, dim=-1) for r in rows], dim=-2)


def reference_project(means, quats, scales, viewmat, K, width, height, eps2d=0.3, near=0.01, far=1e10):
    """One camera: -> means2d [N,2], conics [N,3], depths [N], radii [N] (0 = culled)."""
    rot = _rotmat(quats)
    cov = rot @ torch.diag_embed(scales**2) @ rot.transpose(1, 2)
    R, t = viewmat[:3, :3], viewmat[:3, 3]
    pc = means @ R.T + t
    cov_c = R @ cov @ R.T
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    z = pc[:, 2]
    ok_depth = (z > near) & (z < far)
    zs = torch.where(ok_depth, z, torch.ones_like(z))
    tanx, tany = 0.5 * width / fx, 0.5 * height / fy
    u = torch.clamp(pc[:, 0] / zs, min=-(cx / fx + 0.3 * tanx), max=(width - cx) / fx + 0.3 * tanx)
    v = torch.clamp(pc[:, 1] / zs, min=-(cy / fy + 0.3 * tany), max=(height - cy) / fy + 0.3 * tany)
    J = torch.zeros(len(z), 2, 3, dtype=means.dtype)
    J[:, 0, 0] = fx / zs
    J[:, 0, 2] = -fx * u / zs
    J[:, 1, 1] = fy / zs
    J[:, 1, 2] = -fy * v / zs
    cov2d = J @ cov_c @ J.transpose(1, 2) + eps2d * torch.eye(2, dtype=means.dtype)
    det = torch.linalg.det(cov2d)
    ok = ok_depth & (det > 0)
    safe = torch.where(ok[:, None, None], cov2d, torch.eye(2, dtype=means.dtype).expand_as(cov2d))
    inv = torch.linalg.inv(safe)
    conics = torch.stack([inv[:, 0, 0], inv[:, 0, 1], inv[:, 1, 1]], dim=-1)
    means2d = torch.stack([fx * pc[:, 0] / zs + cx, fy * pc[:, 1] / zs + cy], dim=-1)
    with torch.no_grad():
        mid = 0.5 * (safe[:, 0, 0] + safe[:, 1, 1])
        eig_max = mid + torch.sqrt(torch.clamp(mid**2 - det, min=0.01))  # gsplat's clamped form
        radii = torch.ceil(3.0 * torch.sqrt(eig_max))
        m = means2d
        inside = (m[:, 0] + radii > 0) & (m[:, 0] - radii < width) & (m[:, 1] + radii > 0) & (m[:, 1] - radii < height)
        radii = torch.where(ok & inside, radii, torch.zeros_like(radii))
    return means2d, conics, z, radii


def _features(means, colors, viewmat, sh_degree, depths, mode):
    if sh_degree is None:
        rgb = colors
    else:
        R, t = viewmat[:3, :3], viewmat[:3, 3]
        centre = -R.T @ t
        d = means - centre
        d = d / d.norm(dim=-1, keepdim=True)
        basis = reference_sh_basis(d, sh_degree)
        rgb = torch.clamp(torch.einsum("nk,nkc->nc", basis, colors[:, : basis.shape[-1]]) + 0.5, min=0.0)
    if mode == "RGB":
        return rgb
    if mode in ("D", "ED"):
        return depths[:, None]
    return torch.cat([rgb, depths[:, None]], dim=-1)


def _weights(alpha_pg, order):  # noqa: ANN001, ANN202
    """alpha_pg [P, N] masked alphas -> blending weights alpha_i T_i [P, N] in `order`, and T_final [P]."""
    a = alpha_pg[:, order]
    t_incl = torch.cumprod(1 - a, dim=1)
    a = torch.where(t_incl > 1e-4, a, torch.zeros_like(a))
    t_all = torch.cumprod(1 - a, dim=1)
    t_excl = torch.cat([torch.ones_like(t_all[:, :1]), t_all[:, :-1]], dim=1)
    return a * t_excl, t_all[:, -1]


def _composite(alpha_pg, order, feats, bg):
    """alpha_pg [P, N] masked alphas; front-to-back over `order` -> colors [P, D], alphas [P]."""
    a = alpha_pg[:, order]
    t_incl = torch.cumprod(1 - a, dim=1)
    a = torch.where(t_incl > 1e-4, a, torch.zeros_like(a))
    t_all = torch.cumprod(1 - a, dim=1)
    t_excl = torch.cat([torch.ones_like(t_all[:, :1]), t_all[:, :-1]], dim=1)
    w = a * t_excl
    t_final = t_all[:, -1]
    return w @ feats[order] + t_final[:, None] * bg[None], 1 - t_final


def reference_rasterization(
    means,
    quats,
    scales,
    opacities,
    colors,
    viewmats,
    Ks,
    width,
    height,
    sh_degree=None,
    backgrounds=None,
    render_mode="RGB",
    eps2d=0.3,
    tile_size=16,
):
    """Dense reference of ``rasterization`` (small scenes only: memory is pixels x Gaussians)."""
    out_c, out_a = [], []
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    px = (xs.reshape(-1) + 0.5).to(means.dtype)
    py = (ys.reshape(-1) + 0.5).to(means.dtype)
    tile_x = (xs.reshape(-1) // tile_size)[:, None]
    tile_y = (ys.reshape(-1) // tile_size)[:, None]
    for c in range(viewmats.shape[0]):
        m2d, con, depth, radii = reference_project(means, quats, scales, viewmats[c], Ks[c], width, height, eps2d)
        feats = _features(means, colors, viewmats[c], sh_degree, depth, render_mode)
        dx = m2d[None, :, 0] - px[:, None]
        dy = m2d[None, :, 1] - py[:, None]
        sigma = 0.5 * (con[None, :, 0] * dx**2 + con[None, :, 2] * dy**2) + con[None, :, 1] * dx * dy
        alpha = torch.clamp(opacities[None] * torch.exp(-sigma), max=0.999)
        with torch.no_grad():
            tx0 = torch.floor((m2d[:, 0] - radii) / tile_size)[None]
            tx1 = torch.ceil((m2d[:, 0] + radii) / tile_size)[None]
            ty0 = torch.floor((m2d[:, 1] - radii) / tile_size)[None]
            ty1 = torch.ceil((m2d[:, 1] + radii) / tile_size)[None]
            in_tile = (tile_x >= tx0) & (tile_x < tx1) & (tile_y >= ty0) & (tile_y < ty1) & (radii[None] > 0)
            use = in_tile & (sigma >= 0) & (alpha >= 1.0 / 255.0)
        alpha = torch.where(use, alpha, torch.zeros_like(alpha))
        order = torch.argsort(depth.detach(), stable=True)
        bg = torch.zeros(feats.shape[1], dtype=means.dtype)
        if backgrounds is not None:
            bg[: backgrounds.shape[1]] = backgrounds[c]  # depth channel: background depth 0
        rgb, a = _composite(alpha, order, feats, bg)
        if render_mode in ("ED", "RGB+ED"):
            rgb = torch.cat([rgb[:, :-1], rgb[:, -1:] / a.clamp(min=1e-10)[:, None]], dim=-1)
        out_c.append(rgb.reshape(height, width, -1))
        out_a.append(a.reshape(height, width, 1))
    return torch.stack(out_c), torch.stack(out_a)


def reference_max_weight_ids(means, quats, scales, opacities, viewmats, Ks, width, height, tile_size=16):  # noqa: ANN001, ANN201
    """[C, H, W] index of the Gaussian with the largest blending weight per pixel (-1 where none)."""
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    px, py = (xs.reshape(-1) + 0.5).to(means.dtype), (ys.reshape(-1) + 0.5).to(means.dtype)
    tile_x, tile_y = (xs.reshape(-1) // tile_size)[:, None], (ys.reshape(-1) // tile_size)[:, None]
    out = []
    for c in range(viewmats.shape[0]):
        m2d, con, depth, radii = reference_project(means, quats, scales, viewmats[c], Ks[c], width, height)
        dx, dy = m2d[None, :, 0] - px[:, None], m2d[None, :, 1] - py[:, None]
        sigma = 0.5 * (con[None, :, 0] * dx**2 + con[None, :, 2] * dy**2) + con[None, :, 1] * dx * dy
        alpha = torch.clamp(opacities[None] * torch.exp(-sigma), max=0.999)
        tx0 = torch.floor((m2d[:, 0] - radii) / tile_size)[None]
        tx1 = torch.ceil((m2d[:, 0] + radii) / tile_size)[None]
        ty0 = torch.floor((m2d[:, 1] - radii) / tile_size)[None]
        ty1 = torch.ceil((m2d[:, 1] + radii) / tile_size)[None]
        use = (tile_x >= tx0) & (tile_x < tx1) & (tile_y >= ty0) & (tile_y < ty1) & (radii[None] > 0)
        alpha = torch.where(use & (sigma >= 0) & (alpha >= 1 / 255), alpha, torch.zeros_like(alpha))
        order = torch.argsort(depth, stable=True)
        w, _ = _weights(alpha, order)
        best = torch.argmax(w, dim=1)
        ids = torch.where(w.max(dim=1).values > 0, order[best], torch.full_like(best, -1))
        out.append(ids.reshape(height, width))
    return torch.stack(out)


def reference_pairlist_rasterization(
    means,
    quats,
    scales,
    opacities,
    colors,
    viewmats,
    Ks,
    width,
    height,
    sh_degree=None,
    tile_size=16,
    pixel_box=False,
):
    """The same math over a (pixel, Gaussian) pair list: the plain pure-torch rasterizer the benchmark compares
    against. One camera, RGB, black background.

    ``pixel_box=False`` pairs each Gaussian with every pixel of its tile range (exactly the pixels gsplat
    evaluates); ``pixel_box=True`` only with the pixels of its own 3-sigma box (far fewer pairs for small splats,
    the plain pair list the issue's ~9 s figure describes; pixels beyond 3 sigma can still reach alpha >= 1/255 for
    opacities above 0.35, so its image differs slightly at the fringes)."""
    m2d, con, depth, radii = reference_project(means, quats, scales, viewmats[0], Ks[0], width, height)
    feats = _features(means, colors, viewmats[0], sh_degree, depth, "RGB")
    order = torch.argsort(depth.detach(), stable=True)
    tiles_w = math.ceil(width / tile_size)
    with torch.no_grad():
        visible = order[radii[order] > 0]  # depth order
        r = radii[visible]
        tx0 = torch.clamp(torch.floor((m2d[visible, 0] - r) / tile_size), 0, tiles_w).long()
        tx1 = torch.clamp(torch.ceil((m2d[visible, 0] + r) / tile_size), 0, tiles_w).long()
        ty0 = torch.clamp(torch.floor((m2d[visible, 1] - r) / tile_size), 0, math.ceil(height / tile_size)).long()
        ty1 = torch.clamp(torch.ceil((m2d[visible, 1] + r) / tile_size), 0, math.ceil(height / tile_size)).long()
        x0 = tx0 * tile_size
        y0 = ty0 * tile_size
        bw = torch.clamp(tx1 * tile_size, max=width) - x0
        bh = torch.clamp(ty1 * tile_size, max=height) - y0
        if pixel_box:
            x0 = torch.clamp(torch.floor(m2d[visible, 0] - r), 0, width).long()
            y0 = torch.clamp(torch.floor(m2d[visible, 1] - r), 0, height).long()
            bw = torch.clamp(torch.ceil(m2d[visible, 0] + r), 0, width).long() - x0
            bh = torch.clamp(torch.ceil(m2d[visible, 1] + r), 0, height).long() - y0
        counts = (bw * bh).clamp(min=0)
        g_rank = torch.repeat_interleave(torch.arange(len(visible)), counts)
        start = torch.cumsum(counts, 0) - counts
        local = torch.arange(int(counts.sum())) - start[g_rank]
        pix_x = x0[g_rank] + local % bw[g_rank]
        pix_y = y0[g_rank] + local // bw[g_rank]
        pixel = pix_y * width + pix_x
        # pairs sorted by pixel, then depth rank (the depth order is the Gaussian rank)
        key = pixel * len(visible) + g_rank
        sort = torch.argsort(key)
        pixel, g_rank = pixel[sort], g_rank[sort]
    g = visible[g_rank]
    dx = m2d[g, 0] - (pixel % width + 0.5)
    dy = m2d[g, 1] - (pixel // width + 0.5)
    sigma = 0.5 * (con[g, 0] * dx**2 + con[g, 2] * dy**2) + con[g, 1] * dx * dy
    alpha = torch.clamp(opacities[g] * torch.exp(-sigma), max=0.999)
    alpha = torch.where((sigma >= 0) & (alpha >= 1 / 255), alpha, torch.zeros_like(alpha))
    # segmented exclusive cumprod of (1 - alpha) along each pixel's run, through log-sums
    log_t = torch.log1p(-alpha)
    csum = torch.cumsum(log_t, 0)
    with torch.no_grad():
        first = torch.ones_like(pixel, dtype=torch.bool)
        first[1:] = pixel[1:] != pixel[:-1]
        run_start = torch.cummax(torch.where(first, torch.arange(len(pixel)), torch.zeros_like(pixel)), 0).values
    base = csum[run_start] - log_t[run_start]
    t_incl = torch.exp(csum - base)
    alpha = torch.where(t_incl > 1e-4, alpha, torch.zeros_like(alpha))
    log_t = torch.log1p(-alpha)
    csum = torch.cumsum(log_t, 0)
    base = csum[run_start] - log_t[run_start]
    t_excl = torch.exp(csum - log_t - base)
    w = alpha * t_excl
    image = torch.zeros(height * width, feats.shape[1], dtype=means.dtype).index_add(0, pixel, w[:, None] * feats[g])
    return image.reshape(1, height, width, -1)
