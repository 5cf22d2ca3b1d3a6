"""The gate for a splat sparse in places (issue 21): is the extracted mesh backed by its Gaussians?

Hand-made cases with known answers: flat discs sampled densely over a 6 x 5 x 4 cm box (in-plane sigma 0.5 mm) and
a mesh that is the box, the box without its top's discs, a lower box or a taller box. The expected shares are
computed by hand from the box's sides and the documented tolerances (area: one voxel off the discs' planes;
volume: half a voxel), not by the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from splattwin.errors import InputError
from splattwin.surfaces.sampling import discs_on_mesh
from splattwin.surfaces.support import SupportConfig, surface_support, validate_surface

A, B, C = 0.06, 0.05, 0.04  # the box's sides [m], centred at the origin
AREA = 2 * (A * B + A * C + B * C)
VOXEL = 0.004
FINE = SupportConfig(cell_voxels=0.25)  # 1 mm cells: the grid's rounding well under the hand-computed volumes
# the closing (bridging gaps of a sparse splat's shell) rounds the core's edges by its radius; off where the core
# must be a box for the hand computation (the discs here leave no gap)
EXACT = SupportConfig(cell_voxels=0.25, closing_voxels=0.0)
SIGMA = 0.0005
THICKNESS = 1e-5


def _discs(mesh: trimesh.Trimesh, count: int, seed: int = 0):  # noqa: ANN202
    return discs_on_mesh(mesh, count, radius_m=(SIGMA, SIGMA), thickness_m=THICKNESS, seed=seed)


@pytest.fixture(scope="module")
def box() -> trimesh.Trimesh:
    return trimesh.creation.box((A, B, C))


@pytest.fixture(scope="module")
def box_discs(box: trimesh.Trimesh):  # noqa: ANN201
    return _discs(box, 30000)


def test_the_full_box_is_backed_everywhere(box: trimesh.Trimesh, box_discs) -> None:  # noqa: ANN001
    support = surface_support(box, box_discs, voxel_m=VOXEL, config=FINE)
    assert support.unbacked_share == 0.0
    assert support.missing_share < 0.002 and support.extra_share < 0.002
    # the reference solid: the core plus half the shell, about the box itself (its edges' in-plane overhang aside)
    assert support.reference_volume_m3 == pytest.approx(A * B * C, rel=0.03)
    assert support.mesh_volume_m3 == pytest.approx(A * B * C, rel=0.01)  # the parity fill of the mesh's cells
    assert validate_surface(support, what="/World/Box", voxel_m=VOXEL, source="--region") == []


def test_a_face_without_gaussians_is_the_unbacked_share(box: trimesh.Trimesh) -> None:
    """Discs on five faces, the mesh the whole box: the top is unbacked except a strip one tolerance (a voxel)
    wide along its edges, which the side discs' supports reach across: (A - 2 t)(B - 2 t) / area."""
    faces = np.flatnonzero(box.face_normals[:, 2] < 0.5)  # all but the top's two triangles
    open_box = trimesh.Trimesh(box.vertices, box.faces[faces], process=False)
    discs = _discs(open_box, 25000, seed=1)
    support = surface_support(box, discs, voxel_m=VOXEL, config=FINE)
    t = VOXEL * FINE.area_tolerance_voxels + FINE.sigmas * THICKNESS
    expected = (A - 2 * t) * (B - 2 * t) / AREA  # 0.148 (the whole top: 0.203)
    assert support.unbacked_share == pytest.approx(expected, abs=0.006)
    # nothing closes the discs' shell: the mesh's whole inside is volume the Gaussians do not enclose
    assert support.extra_share > 1.0
    with pytest.raises(InputError) as refused:
        validate_surface(support, what="/World/Scene", voxel_m=VOXEL, source="--region")
    line = str(refused.value)
    assert "\n" not in line and "/World/Scene" in line and "--voxel 0.004 m" in line
    assert f"{100 * support.unbacked_share:.1f} % of its area unbacked (bar 10 %)" in line


def test_a_mesh_lower_than_its_gaussians_misses_their_core(box: trimesh.Trimesh, box_discs) -> None:  # noqa: ANN001
    """The mesh's top 1 cm below the discs' top: the core (the box less a shell of half a voxel) above it is
    missing: (A - 2 m)(B - 2 m)(1 cm - m)."""
    low = trimesh.creation.box((A, B, C - 0.01))
    low.apply_translation((0, 0, -0.005))
    support = surface_support(low, box_discs, voxel_m=VOXEL, config=EXACT)
    m = VOXEL * FINE.volume_tolerance_voxels + FINE.sigmas * THICKNESS
    expected = (A - 2 * m) * (B - 2 * m) * (0.01 - m)  # 20.6 cm^3, 17 % of the box
    assert support.missing_share * support.reference_volume_m3 == pytest.approx(expected, rel=0.04)
    assert support.extra_share < 0.002
    # its top face lies 1 cm inside the side discs' planes but on none: unbacked, (A - 2 t)(B - 2 t) of its area
    t = VOXEL * FINE.area_tolerance_voxels + FINE.sigmas * THICKNESS
    expected_area = (A - 2 * t) * (B - 2 * t) / (2 * (A * B + (A + B) * (C - 0.01)))
    assert support.unbacked_share == pytest.approx(expected_area, abs=0.006)
    # missing volume alone refuses: the same numbers with the area backed
    from dataclasses import replace

    with pytest.raises(InputError, match=r"\d+\.\d % of their volume missing \(bar 3 %\)"):
        validate_surface(replace(support, unbacked_share=0.0), what="/World/Scene", voxel_m=VOXEL, source="x")


def test_a_mesh_taller_than_its_gaussians_adds_extra_volume_and_is_warned(box_discs) -> None:  # noqa: ANN001
    """The mesh's top 1 cm above the discs' top: what lies beyond their shell (half a voxel) is extra,
    A B (1 cm - m), less the side discs' overhang above the top (3 sigma + m high, 2 m thick: a thin rim)."""
    tall = trimesh.creation.box((A, B, C + 0.01))
    tall.apply_translation((0, 0, 0.005))
    support = surface_support(tall, box_discs, voxel_m=VOXEL, config=EXACT)
    m = VOXEL * FINE.volume_tolerance_voxels + FINE.sigmas * THICKNESS
    expected = A * B * (0.01 - m)  # 24 cm^3, 20 % of the box
    assert support.extra_share * support.reference_volume_m3 == pytest.approx(expected, rel=0.04)
    assert support.missing_share < 0.002
    # a bridged gap this size is over the 10 % bar as area too (the top and the sides' upper centimetre)
    with pytest.raises(InputError, match="not supported by its Gaussians"):
        validate_surface(support, what="/World/Scene", voxel_m=VOXEL, source="--region")
    # extra volume alone warns: the same numbers with the area backed
    from dataclasses import replace

    warned = validate_surface(replace(support, unbacked_share=0.0), what="/World/Scene", voxel_m=VOXEL, source="x")
    assert len(warned) == 1 and f"{100 * support.extra_share:.1f} % more volume" in warned[0]


def test_the_table_closes_an_object_standing_on_it_and_its_cut_face_needs_no_gaussians(box: trimesh.Trimesh) -> None:
    """A box on a table at z = 0: discs on its five visible faces (none under it) and on the table around it;
    the mesh is the box, its bottom the table cut. The bottom is left out of the area, the table's half-space
    closes the shell: everything backed, nothing missing or extra."""
    standing = box.copy()
    standing.apply_translation((0, 0, C / 2))
    visible = trimesh.Trimesh(standing.vertices, standing.faces[standing.face_normals[:, 2] > -0.5], process=False)
    # the table around the box's footprint, none under it (a capture never sees there)
    strips = [(-0.06, -A / 2, -0.06, 0.06), (A / 2, 0.06, -0.06, 0.06), (-A / 2, A / 2, -0.06, -B / 2),
              (-A / 2, A / 2, B / 2, 0.06)]  # fmt: skip
    table = trimesh.util.concatenate(
        [trimesh.Trimesh([[x0, y0, 0], [x1, y0, 0], [x1, y1, 0], [x0, y1, 0]], [[0, 1, 2], [0, 2, 3]])
         for x0, x1, y0, y1 in strips]
    )  # fmt: skip
    from splattwin.gaussians import Gaussians

    discs = Gaussians.concatenate([_discs(visible, 25000, seed=2), _discs(table, 20000, seed=3)])
    support = surface_support(standing, discs, voxel_m=VOXEL, table_z=0.0, config=FINE)
    assert support.cut_share == pytest.approx(A * B / AREA, abs=0.006)
    assert support.unbacked_share == 0.0
    assert support.missing_share < 0.002 and support.extra_share < 0.002
    assert support.reference_volume_m3 == pytest.approx(A * B * C, rel=0.03)
    # without the table: the open bottom does not close, and the bottom face is unbacked
    loose = surface_support(standing, discs, voxel_m=VOXEL, config=FINE)
    assert loose.unbacked_share > 0.1 and loose.extra_share > 1.0


def test_transparent_gaussians_back_nothing(box: trimesh.Trimesh, box_discs) -> None:  # noqa: ANN001
    from dataclasses import replace

    faint = replace(box_discs, opacities=np.full(len(box_discs), 0.05))
    support = surface_support(box, faint, voxel_m=VOXEL, config=FINE)
    assert support.unbacked_share == 1.0 and support.gaussians == 0


def test_one_rotated_gaussians_support_is_its_three_sigma_ellipsoid_grown_by_the_tolerance() -> None:
    """One Gaussian, sigma (8, 2, 2) mm, turned so its long axis is z; a 15 mm sphere around it. Its support's
    half-axes are 3 sigma + t: (26, 8, 8) mm at a 2 mm voxel, so a point of the sphere is backed where
    (z / 26)^2 + (r_xy / 8)^2 <= 1, |z| >= h with h^2 = (R^2 / 64 - 1) / (1 / 64 - 1 / 676): two caps holding
    (R - h) / R of the sphere's area."""
    from splattwin.gaussians import Gaussians

    c = np.sqrt(0.5)
    one = Gaussians(
        means=np.zeros((1, 3)),
        quats_wxyz=np.array([[c, 0.0, c, 0.0]]),  # 90 degrees about y: local x -> world -z
        scales=np.array([[0.008, 0.002, 0.002]]),
        opacities=np.array([0.9]),
        sh=np.zeros((1, 1, 3)),
    )
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=0.015)
    support = surface_support(sphere, one, voxel_m=0.002)
    long_axis, short_axis = 3 * 8.0 + 2.0, 3 * 2.0 + 2.0  # mm
    h = np.sqrt((15.0**2 / short_axis**2 - 1) / (1 / short_axis**2 - 1 / long_axis**2))
    assert 1.0 - support.unbacked_share == pytest.approx((15.0 - h) / 15.0, abs=0.01)  # 0.111
    assert 1.0 - surface_support(sphere.apply_scale(0.5), one, voxel_m=0.002).unbacked_share == 1.0  # inside


def test_a_large_gaussian_behind_nearer_small_ones_still_backs() -> None:
    """A point is tested against its nearest centres, not only the nearest: a 1 mm sphere 5 mm from a large
    Gaussian's centre (sigma 10 mm: support 30.5 mm at a 0.5 mm voxel) is backed by it, although five tiny
    Gaussians (support 0.8 mm) 2 mm from the sphere are nearer."""
    from splattwin.gaussians import Gaussians

    tiny = np.array([[0.005, 0.0, 0.002], [0.005, 0.0, -0.002], [0.005, 0.002, 0.0], [0.005, -0.002, 0.0],
                     [0.007, 0.0, 0.0]])  # fmt: skip
    means = np.vstack([np.zeros((1, 3)), tiny])
    scales = np.vstack([np.full((1, 3), 0.01), np.full((len(tiny), 3), 1e-4)])
    gaussians = Gaussians(
        means=means,
        quats_wxyz=np.tile([1.0, 0.0, 0.0, 0.0], (len(means), 1)),
        scales=scales,
        opacities=np.full(len(means), 0.9),
        sh=np.zeros((len(means), 1, 3)),
    )
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.001)
    sphere.apply_translation((0.005, 0.0, 0.0))
    assert surface_support(sphere, gaussians, voxel_m=0.0005).unbacked_share == 0.0
    assert surface_support(sphere, gaussians.subset(np.arange(1, 6)), voxel_m=0.0005).unbacked_share == 1.0
