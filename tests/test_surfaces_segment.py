"""Segmentation of an object's Gaussians without a mesh (surfaces/segment.py, claim --point/--box, extract-mesh
--point). The ground truth is the construction: discs sampled on two boxes 2.5 cm apart on a table, floaters in
the air, each Gaussian labelled with what it was sampled on."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import trimesh

from splattwin.cli import main
from splattwin.gaussians import Gaussians
from splattwin.io import write_gaussians
from splattwin.surfaces.sampling import discs_on_mesh
from splattwin.surfaces.segment import find_selection_table, segment_gaussians, segment_object

TABLE_Z = 0.02
A_BOX = ((0.04, 0.04, 0.05), (-0.0375, 0.0, TABLE_Z + 0.025))  # x from -0.0575 to -0.0175
B_BOX = ((0.04, 0.04, 0.03), (0.0275, 0.0, TABLE_Z + 0.015))  # x from 0.0075 to 0.0475: a 2.5 cm gap
TABLE, A, B, FLOATER = 0, 1, 2, 3


def box_mesh(spec: tuple) -> trimesh.Trimesh:
    extents, centre = spec
    mesh = trimesh.creation.box(extents)
    mesh.apply_translation(centre)
    return mesh


def on_box(spec: tuple, count: int, seed: int) -> Gaussians:
    discs = discs_on_mesh(box_mesh(spec), count, seed=seed)
    return discs.subset(discs.means[:, 2] > TABLE_Z + 1e-4)  # a capture sees no face resting on the table


def scene() -> tuple[Gaussians, np.ndarray]:
    a, b = on_box(A_BOX, 5000, 1), on_box(B_BOX, 4000, 2)
    table_mesh = trimesh.creation.box((0.4, 0.3, 0.02))
    table_mesh.apply_translation((0.0, 0.0, TABLE_Z / 2))
    table = discs_on_mesh(table_mesh, 25000, seed=3)
    # Floaters: faint ones everywhere over the table, and a few opaque ones far from the boxes.
    rng = np.random.default_rng(4)
    faint = rng.uniform([-0.2, -0.15, 0.03], [0.2, 0.15, 0.2], (300, 3))
    opaque = rng.uniform([-0.2, 0.07, 0.1], [0.2, 0.15, 0.2], (40, 3))
    means = np.vstack([faint, opaque])
    floaters = Gaussians(
        means,
        np.tile([1.0, 0.0, 0.0, 0.0], (len(means), 1)),
        np.full((len(means), 3), 0.0015),
        np.concatenate([np.full(len(faint), 0.03), np.full(len(opaque), 0.8)]),
        np.zeros((len(means), 1, 3)),
    )
    splat = Gaussians.concatenate([a, b, table, floaters])
    labels = np.concatenate(
        [np.full(len(a), A), np.full(len(b), B), np.full(len(table), TABLE), np.full(len(floaters), FLOATER)]
    )
    return splat, labels


@pytest.fixture(scope="module")
def labelled() -> tuple[Gaussians, np.ndarray]:
    return scene()


def precision_recall(mask: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    hits = int((mask & truth).sum())
    return hits / max(1, int(mask.sum())), hits / int(truth.sum())


def segment(splat: Gaussians, **kwargs) -> object:  # noqa: ANN003
    return segment_gaussians(splat.means, splat.scales, splat.opacities, table_z=TABLE_Z, **kwargs)


def test_a_chain_is_one_component_and_a_gap_splits_it() -> None:
    """Hand-made: points 3 mm apart along x from 0 to 3 cm, then a 3 cm gap, then 3 cm more; link radius 5 mm."""
    x = np.concatenate([np.arange(0.0, 0.0301, 0.003), np.arange(0.06, 0.0901, 0.003)])
    means = np.column_stack([x, np.zeros_like(x), np.zeros_like(x)])
    scales, opacities = np.full((len(x), 3), 0.001), np.ones(len(x))
    first = segment_gaussians(means, scales, opacities, seed_point=np.zeros(3), link_radius=0.005)
    assert first.components == 2 and first.count == 11 and first.next_largest == 11
    np.testing.assert_array_equal(first.mask, x < 0.05)
    np.testing.assert_allclose([first.lo[0], first.hi[0]], [0.0, 0.03])
    # With a 4 cm link radius the gap closes: one component of all 22.
    whole = segment_gaussians(means, scales, opacities, seed_point=np.zeros(3), link_radius=0.04)
    assert whole.components == 1 and whole.count == 22


def test_a_picked_point_gets_exactly_its_box(labelled) -> None:  # noqa: ANN001
    splat, labels = labelled
    for point, label in (((-0.0375, 0.0, 0.07), A), ((0.0475, 0.01, 0.03), B)):  # A's top face, B's side
        found = segment(splat, seed_point=np.array(point))
        precision, recall = precision_recall(found.mask, labels == label)
        assert precision >= 0.99 and recall >= 0.99, (label, precision, recall)
        assert found.table_z == TABLE_Z and found.link_radius < 0.025  # the gap is wider than a link


def test_the_table_is_found_under_a_point_and_a_box(labelled) -> None:  # noqa: ANN001
    splat, _ = labelled
    assert find_selection_table(splat, point=np.array([-0.0375, 0.0, 0.07])) == pytest.approx(TABLE_Z, abs=5e-4)
    box = (np.array([0.0, -0.03, 0.03]), np.array([0.06, 0.03, 0.06]))  # drawn above the table: still found
    assert find_selection_table(splat, box=box) == pytest.approx(TABLE_Z, abs=5e-4)
    found = segment_object(splat, point=np.array([0.0475, 0.01, 0.03]))
    precision, recall = precision_recall(found.mask, _ == B)
    assert precision >= 0.99 and recall >= 0.99


def test_without_the_table_cut_the_boxes_merge_with_the_table(labelled) -> None:  # noqa: ANN001
    """The cut is what separates them: with no table, a point on A picks A, B and the table together."""
    splat, labels = labelled
    merged = segment_gaussians(splat.means, splat.scales, splat.opacities, seed_point=np.array([-0.0375, 0.0, 0.07]))
    assert merged.mask[labels == B].mean() > 0.9 and merged.mask[labels == TABLE].mean() > 0.9


def test_a_box_returns_its_largest_component_or_the_points(labelled) -> None:  # noqa: ANN001
    splat, labels = labelled
    around_b = (np.array([0.0, -0.03, 0.0]), np.array([0.06, 0.03, 0.07]))
    found = segment(splat, box=around_b)
    precision, recall = precision_recall(found.mask, labels == B)
    assert precision >= 0.99 and recall >= 0.99
    both = (np.array([-0.07, -0.03, 0.0]), np.array([0.06, 0.03, 0.08]))
    largest = segment(splat, box=both)  # A has more Gaussians than B
    assert min(precision_recall(largest.mask, labels == A)) >= 0.99
    assert largest.next_largest == pytest.approx((labels == B).sum(), rel=0.01)
    picked = segment(splat, box=both, seed_point=np.array([0.0275, 0.0, 0.05]))  # B's top face, inside the box
    assert min(precision_recall(picked.mask, labels == B)) >= 0.99


def test_floaters_are_never_candidates(labelled) -> None:  # noqa: ANN001
    splat, labels = labelled
    faint = np.flatnonzero((labels == FLOATER) & (splat.opacities < 0.1))
    with pytest.raises(Exception, match=r"--point: .* has no object within .* \(empty space\)"):
        segment(splat, seed_point=splat.means[faint[0]])


def test_a_point_on_the_table_or_in_empty_space_is_refused(labelled) -> None:  # noqa: ANN001
    splat, _ = labelled
    with pytest.raises(Exception, match=r"lies on the table \(z = 0.0200 m\) and has no object within 0.01 m"):
        segment(splat, seed_point=np.array([0.15, -0.1, TABLE_Z]))
    with pytest.raises(Exception, match=r"has no object within 0.01 m: .* \(empty space\)"):
        segment(splat, seed_point=np.array([-0.01, 0.0, 0.15]))
    with pytest.raises(Exception, match=r"--box: no opaque Gaussians in the box above the table"):
        segment(splat, box=(np.array([0.1, 0.0, 0.0]), np.array([0.15, 0.05, 0.05])))  # the table only
    with pytest.raises(Exception, match=r"--box: max corner"):
        segment(splat, box=(np.array([0.1, 0.0, 0.0]), np.array([0.0, 0.05, 0.05])))
    with pytest.raises(Exception, match=r"give a box or a point"):
        segment(splat)


# --- the verbs ------------------------------------------------------------------------------------------------


@pytest.fixture
def twin(tmp_path: Path, labelled) -> Path:  # noqa: ANN001
    splat, _ = labelled
    write_gaussians(tmp_path / "scene.ply", splat)
    stage = tmp_path / "twin.usda"
    assert main(["import-splat", str(tmp_path / "scene.ply"), "--stage", str(stage), "--prim", "/World/Scene",
                 "--metric"]) == 0  # fmt: skip
    box_mesh(B_BOX).export(tmp_path / "b.obj")
    assert main(["import-mesh", str(tmp_path / "b.obj"), "--stage", str(stage), "--prim", "/World/Objects/B",
                 "--dynamic", "--metric"]) == 0  # fmt: skip
    return stage


def files(stage: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in stage.parent.rglob("*.usd*")}


def test_claim_by_point_moves_the_box_and_nothing_else(twin: Path, labelled, capsys) -> None:  # noqa: ANN001
    from splattwin.usd import open_twin, read_gaussians_prim
    from splattwin.usd.prims import local_to_world

    splat, labels = labelled
    code = main(["claim", "--stage", str(twin), "--splat", "/World/Scene", "--body", "/World/Objects/B",
                 "--point", "0.0275", "0", "0.05"])  # fmt: skip
    assert code == 0
    count = int(capsys.readouterr().out.split()[1])
    opened = open_twin(twin)
    claimed_prim = opened.stage.GetPrimAtPath("/World/Objects/B/Gaussians")
    claimed = local_to_world(claimed_prim).apply_points(read_gaussians_prim(claimed_prim).means)
    left = read_gaussians_prim(opened.stage.GetPrimAtPath("/World/Scene"))
    assert count == len(claimed) and len(left) == len(splat) - count
    # Match the claimed Gaussians back to the input by position: precision and recall against B's label.
    from scipy.spatial import cKDTree

    distance, index = cKDTree(splat.means).query(claimed)
    assert distance.max() < 1e-5
    mask = np.zeros(len(splat), dtype=bool)
    mask[index] = True
    precision, recall = precision_recall(mask, labels == B)
    assert precision >= 0.99 and recall >= 0.99
    record = dict(claimed_prim.GetCustomDataByKey("splattwin:claimSelection"))
    assert list(record["point"]) == [0.0275, 0.0, 0.05] and record["table"] == "auto"


def test_claim_bad_selection_is_one_line_and_writes_nothing(twin: Path, capsys) -> None:  # noqa: ANN001
    before = files(twin)
    args = ["claim", "--stage", str(twin), "--splat", "/World/Scene", "--body", "/World/Objects/B"]
    cases = [
        (["--point", "0.15", "-0.1", "0.02"], "--point: [0.15, -0.1, 0.02] lies on the table"),
        (["--point", "-0.01", "0", "0.15"], "(empty space)"),
        (["--box", "0.1", "0", "0", "0.15", "0.05", "0.05"], "--box: no opaque Gaussians in the box above the table"),
        (["--box", "0.1", "0", "0", "0", "0.05", "0.05"], "--box: max corner"),
        (["--point", "0", "0", "0.05", "--table", "low"], "--table: must be auto, none or a height"),
    ]
    for extra, message in cases:
        code = main([*args, *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and message in err[0], (extra, err)
    assert files(twin) == before


def test_extract_mesh_by_point_makes_the_box_alone(twin: Path, capsys) -> None:  # noqa: ANN001
    from splattwin.usd import open_twin

    code = main(["extract-mesh", "--stage", str(twin), "--splat", "/World/Scene", "--out-prim", "/World/Made/B",
                 "--point", "0.0275", "0", "0.05", "--views", "24", "--voxel", "0.003"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    from pxr import UsdGeom

    opened = open_twin(twin)
    prim = opened.stage.GetPrimAtPath("/World/Made/B")
    record = dict(prim.GetCustomDataByKey("splattwin:extraction"))
    assert record["extractedFrom"].startswith("the component of /World/Scene at [0.0275, 0.0, 0.05]")
    assert float(record["tableCut"]) == pytest.approx(TABLE_Z, abs=5e-4)
    points = np.asarray(UsdGeom.Mesh(prim).GetPointsAttr().Get())
    lo, hi = box_mesh(B_BOX).bounds
    np.testing.assert_allclose(points.min(axis=0), lo, atol=0.004)  # box B, not A nor the table
    np.testing.assert_allclose(points.max(axis=0), hi, atol=0.004)
    volume = float(re.search(r"volume ([0-9.e+-]+) m\^3", capsys.readouterr().out).group(1))
    assert volume == pytest.approx(0.04 * 0.04 * 0.03, rel=0.05)  # B's, not A's (8e-05 m^3) nor the table's
    before = files(twin)
    for point, message in (
        (["0.15", "-0.1", "0.02"], "lies on the table"),
        (["-0.01", "0", "0.15"], "(empty space)"),
    ):
        code = main(["extract-mesh", "--stage", str(twin), "--splat", "/World/Scene", "--out-prim", "/World/M",
                     "--point", *point])  # fmt: skip
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and message in err[0], err
    assert files(twin) == before


def test_a_segmentation_claim_is_reapplied_to_a_new_splat(twin: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """``import-splat --replace`` segments the new splat with the recorded point: B's Gaussians move again."""
    from splattwin.usd import open_twin, read_gaussians_prim

    args = ["claim", "--stage", str(twin), "--splat", "/World/Scene", "--body", "/World/Objects/B"]
    assert main([*args, "--point", "0.0275", "0", "0.05"]) == 0
    count = int(capsys.readouterr().out.split()[1])
    code = main(["import-splat", str(tmp_path / "scene.ply"), "--stage", str(twin), "--prim", "/World/Scene",
                 "--metric", "--replace"])  # fmt: skip
    assert code == 0
    assert f"re-applied the claim of /World/Objects/B (margin 0.005 m): {count} Gaussians" in capsys.readouterr().out
    opened = open_twin(twin)
    assert len(read_gaussians_prim(opened.stage.GetPrimAtPath("/World/Objects/B/Gaussians"))) == count


def test_the_table_is_found_under_a_point_among_equal_height_boxes() -> None:
    """A 3 x 3 grid of 5 cm boxes 2 cm apart, 19 cm across: their tops together reach every side of the 20 cm
    search square, yet they are nine pieces; the table between them is one. The point on the middle box gets the
    table and the box."""
    boxes = [((0.05, 0.05, 0.05), (0.07 * i, 0.07 * j, TABLE_Z + 0.025)) for i in (-1, 0, 1) for j in (-1, 0, 1)]
    table_mesh = trimesh.creation.box((0.4, 0.4, 0.02))
    table_mesh.apply_translation((0.0, 0.0, TABLE_Z / 2))
    parts = [on_box(spec, 3000, seed) for seed, spec in enumerate(boxes)]
    splat = Gaussians.concatenate([*parts, discs_on_mesh(table_mesh, 40000, seed=20)])
    point = np.array([0.0, 0.0, TABLE_Z + 0.05])
    assert find_selection_table(splat, point=point) == pytest.approx(TABLE_Z, abs=5e-4)
    middle = np.concatenate([np.full(len(p), k == 4) for k, p in enumerate(parts)] + [np.zeros(40000, bool)])
    found = segment(splat, seed_point=point)
    precision, recall = precision_recall(found.mask, middle)
    assert precision >= 0.99 and recall >= 0.99, (precision, recall)
