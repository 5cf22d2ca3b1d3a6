"""Tests of splattwin.geometry.alignment: hand-computed steps and a synthetic tilted, scaled, y-up workcell."""

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from splattwin.errors import InputError
from splattwin.geometry.alignment import (
    PlaneFit,
    fit_table_plane,
    gravity_alignment,
    origin_shift,
    scale_from_distance,
    unify_frame,
    up_axis_rotation,
)
from splattwin.geometry.transforms import Similarity

TABLE_HEIGHT = 0.75
TABLE_CENTRE = np.array([1.0, 0.3])
TABLE_HALF_SIZE = np.array([0.6, 0.4])  # a 1.2 x 0.8 m top
MARKER_A = np.array([0.4, -0.1, TABLE_HEIGHT])  # two opposite table corners, 1.4422 m apart
MARKER_B = np.array([1.6, 0.7, TABLE_HEIGHT])

# Input frame = y-up version of (tilt, then scale 3.7, then shift) of the true z-up metric world.
TILT = Rotation.from_rotvec(np.radians(17.0) * np.array([1.0, 0.4, 0.0]) / np.hypot(1.0, 0.4)).as_matrix()
SCALE = 3.7
SHIFT = np.array([2.0, -1.3, 5.2])
Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # (x, y, z) -> (x, z, -y)


def to_input_frame(world_points: np.ndarray) -> np.ndarray:
    return (SCALE * world_points @ TILT.T + SHIFT) @ Z_UP_TO_Y_UP.T


def workcell(seed: int = 0) -> np.ndarray:
    """World-frame points [N, 3] (z up, metres): table top, a bigger floor, boxes on the table, 5% outliers."""
    rng = np.random.default_rng(seed)
    n_table, n_floor = 10_000, 20_000
    table = np.column_stack(
        [
            TABLE_CENTRE + rng.uniform(-1, 1, (n_table, 2)) * TABLE_HALF_SIZE,
            TABLE_HEIGHT + rng.normal(0.0, 0.002, n_table),
        ]
    )
    floor = np.column_stack(
        [rng.uniform(-1.0, 3.0, n_floor), rng.uniform(-1.5, 2.0, n_floor), rng.normal(0.0, 0.002, n_floor)]
    )
    boxes = []
    for centre_x, centre_y, size in [(0.8, 0.2, (0.15, 0.1, 0.12)), (1.3, 0.5, (0.2, 0.2, 0.08))]:
        half = np.array(size) / 2
        surface = rng.uniform(-1, 1, (1500, 3)) * half
        face = rng.integers(0, 3, 1500)  # push each point onto one face of the box
        surface[np.arange(1500), face] = rng.choice([-1.0, 1.0], 1500) * half[face]
        boxes.append(surface + [centre_x, centre_y, TABLE_HEIGHT + half[2]])
    scene = np.concatenate([table, floor, *boxes])
    n_outliers = int(0.05 * len(scene) / 0.95)
    outliers = rng.uniform(scene.min(axis=0), scene.max(axis=0) + [0, 0, 1.0], (n_outliers, 3))
    return rng.permutation(np.concatenate([scene, outliers]))


def table_corners() -> np.ndarray:
    signs = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]])
    return np.column_stack([TABLE_CENTRE + signs * TABLE_HALF_SIZE, np.full(4, TABLE_HEIGHT)])


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    cosine = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))


def test_up_axis_y_is_usd_y_up_to_z_up():
    rotation = up_axis_rotation("y")
    points = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    expected = np.array([[0.0, 0.0, 1.0], [0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [1.0, -3.0, 2.0]])
    np.testing.assert_allclose(rotation.apply_points(points), expected, atol=1e-15)
    assert rotation.scale == 1.0
    np.testing.assert_array_equal(rotation.translation, 0.0)
    assert up_axis_rotation("z").is_identity()


@pytest.mark.parametrize(
    ("up_axis", "up", "becomes_world_x"),
    [
        ("z", (0, 0, 1), (1, 0, 0)),
        ("+Y", (0, 1, 0), (1, 0, 0)),
        ("-y", (0, -1, 0), (1, 0, 0)),
        ("x", (1, 0, 0), (0, 0, -1)),
        ("-x", (-1, 0, 0), (0, 0, 1)),
        ("-z", (0, 0, -1), (1, 0, 0)),
    ],
)
def test_up_axis_rules(up_axis, up, becomes_world_x):
    rotation = up_axis_rotation(up_axis).rotation
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-15)
    np.testing.assert_allclose(rotation @ np.array(up, float), [0, 0, 1], atol=1e-15)
    np.testing.assert_allclose(rotation @ np.array(becomes_world_x, float), [1, 0, 0], atol=1e-15)


def test_scale_from_distance_by_hand():
    # |(1,2,3) - (4,6,3)| = 5; 2 metres -> scale 0.4 about the origin.
    scale = scale_from_distance([1.0, 2.0, 3.0], [4.0, 6.0, 3.0], 2.0)
    assert scale.scale == pytest.approx(0.4, rel=1e-15)
    np.testing.assert_allclose(scale.apply_points([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), [[0.4, 0.8, 1.2], [0, 0, 0]])


def test_origin_shift_and_gravity_alignment_by_hand():
    np.testing.assert_allclose(origin_shift([1.0, -2.0, 0.5]).apply_points([1.0, -2.0, 0.5]), 0.0, atol=1e-15)
    # A plane tilted by 20 deg about x at distance 2 from the origin.
    theta = np.radians(20.0)
    normal = np.array([0.0, -np.sin(theta), np.cos(theta)])
    plane = PlaneFit(normal=normal, offset=2.0, inliers=np.ones(1, bool), rmse=0.0, inlier_fraction=1.0, threshold=1)
    transform = gravity_alignment(plane, table_height=0.8)
    # The smallest rotation is the 20 deg turn about normal x z = (-sin 20, 0, 0), i.e. -20 deg about x.
    rotvec = Rotation.from_matrix(transform.rotation).as_rotvec()
    np.testing.assert_allclose(rotvec, [-theta, 0.0, 0.0], atol=1e-12)
    in_plane = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, np.cos(theta), np.sin(theta)]]) * 3
    on_plane = in_plane + 2.0 * normal
    np.testing.assert_allclose(transform.apply_points(on_plane)[:, 2], 0.8, atol=1e-12)
    np.testing.assert_allclose(transform.apply_points(2.0 * normal), [0.0, 0.0, 0.8], atol=1e-12)


def test_plane_transformed_keeps_points_on_plane():
    rng = np.random.default_rng(5)
    normal = np.array([0.2, -0.1, 1.0]) / np.linalg.norm([0.2, -0.1, 1.0])
    plane = PlaneFit(normal=normal, offset=1.5, inliers=np.ones(3, bool), rmse=0.01, inlier_fraction=1, threshold=0.1)
    basis = np.linalg.svd(normal[None])[2][1:]  # two in-plane directions
    points = rng.normal(size=(10, 2)) @ basis + 1.5 * normal
    rotation = Rotation.random(random_state=6).as_matrix()
    moved = plane.transformed(Similarity(rotation=rotation, translation=[1.0, 2.0, -3.0], scale=2.5))
    moved_points = 2.5 * points @ rotation.T + [1.0, 2.0, -3.0]
    np.testing.assert_allclose(moved.signed_distances(moved_points), 0.0, atol=1e-12)
    np.testing.assert_allclose(moved.normal, rotation @ normal, atol=1e-15)
    assert moved.rmse == pytest.approx(0.025) and moved.threshold == pytest.approx(0.25)


def test_fit_table_plane_picks_table_over_bigger_floor():
    points = workcell()
    table = fit_table_plane(points)
    assert angle_deg(table.normal, np.array([0.0, 0.0, 1.0])) < 0.1
    assert table.offset == pytest.approx(TABLE_HEIGHT, abs=0.002)
    assert 0.0015 < table.rmse < 0.003  # the 2 mm noise of the table points
    # The mask holds the table points (those within the threshold of z = 0.75).
    expected_mask = np.abs(points[:, 2] - TABLE_HEIGHT) < table.threshold
    assert np.mean(table.inliers == expected_mask) > 0.999
    assert table.inlier_fraction == pytest.approx(table.inliers.mean())

    floor = fit_table_plane(points, prefer="largest")
    assert floor.offset == pytest.approx(0.0, abs=0.002)
    assert floor.inliers.sum() > table.inliers.sum()


@pytest.mark.parametrize("units_per_metre", [1e-3, 1.0, 1e3])
def test_fit_table_plane_is_scale_free_and_follows_tilt(units_per_metre):
    points = workcell(seed=1) @ TILT.T * units_per_metre + np.array([5.0, -2.0, 1.0]) * units_per_metre
    plane = fit_table_plane(points, seed=3)
    assert angle_deg(plane.normal, TILT[:, 2]) < 0.2
    corners = table_corners() @ TILT.T * units_per_metre + np.array([5.0, -2.0, 1.0]) * units_per_metre
    np.testing.assert_allclose(plane.signed_distances(corners) / units_per_metre, 0.0, atol=0.004)


def test_fit_table_plane_is_deterministic_for_a_seed():
    points = workcell(seed=2)
    first, second = fit_table_plane(points, seed=7), fit_table_plane(points, seed=7)
    np.testing.assert_array_equal(first.normal, second.normal)
    np.testing.assert_array_equal(first.inliers, second.inliers)
    assert first.offset == second.offset


def test_fit_table_plane_normal_follows_up_hint():
    points = workcell(seed=3)
    plane = fit_table_plane(points, up_hint=(0.0, 0.0, -1.0), prefer="largest")
    assert angle_deg(plane.normal, np.array([0.0, 0.0, -1.0])) < 0.1


@pytest.mark.parametrize(
    ("base", "expected_table_z"),
    [
        ((0.2, -0.5, 0.0), TABLE_HEIGHT),  # an arm on a pedestal on the floor: the table stays 0.75 m above it
        ((0.6, 0.3, TABLE_HEIGHT), 0.0),  # an arm bolted on the table: the table ends at the origin's height
    ],
)
def test_unify_frame_recovers_metric_gravity_aligned_frame(base, expected_table_z):
    base = np.array(base)
    points = to_input_frame(workcell(seed=4))
    marker_a, marker_b = to_input_frame(MARKER_A[None])[0], to_input_frame(MARKER_B[None])[0]
    true_distance = float(np.linalg.norm(MARKER_A - MARKER_B))

    transform, record = unify_frame(
        points,
        up_axis="y",
        scale_from=(marker_a, marker_b, true_distance),
        table="auto",
        table_height=TABLE_HEIGHT,
        origin=to_input_frame(base[None])[0],
    )

    def world(p: np.ndarray) -> np.ndarray:
        return transform.apply_points(to_input_frame(p))

    distance = np.linalg.norm(world(MARKER_A) - world(MARKER_B))
    assert distance == pytest.approx(true_distance, rel=1e-6)
    np.testing.assert_allclose(world(base), 0.0, atol=1e-9)
    # The true world up (the table normal) must end on +z; the yaw is free.
    assert angle_deg(world(np.array([0.0, 0.0, 1.0])) - world(np.zeros(3)), np.array([0.0, 0.0, 1.0])) < 0.5
    np.testing.assert_allclose(world(table_corners())[:, 2], expected_table_z, atol=0.004)

    assert [step["name"] for step in record["steps"]] == ["up_axis", "scale", "table", "origin"]
    json.dumps(record)  # JSON-friendly
    composed = np.eye(4)
    for step in record["steps"]:
        composed = np.array(step["matrix"]) @ composed
    np.testing.assert_allclose(composed, transform.matrix(), atol=1e-9)
    np.testing.assert_allclose(record["matrix"], transform.matrix(), atol=1e-15)
    table_step = record["steps"][2]
    assert 0.0015 < table_step["rmse"] < 0.003
    assert 0.2 < table_step["inlier_fraction"] < 0.4
    assert table_step["tilt_deg"] == pytest.approx(17.0, abs=0.5)


def test_unify_frame_with_given_plane_carries_it_through_axis_and_scale():
    # The exact table plane in the input frame: its normal is the image of the world z axis.
    normal = Z_UP_TO_Y_UP @ TILT[:, 2]
    offset = float(normal @ to_input_frame(MARKER_A[None])[0])
    plane = PlaneFit(normal=normal, offset=offset, inliers=np.ones(4, bool), rmse=0.0, inlier_fraction=1, threshold=1)
    marker_a, marker_b = to_input_frame(MARKER_A[None])[0], to_input_frame(MARKER_B[None])[0]
    transform, record = unify_frame(
        None,
        up_axis="y",
        scale_from=(marker_a, marker_b, float(np.linalg.norm(MARKER_A - MARKER_B))),
        table=plane,
        table_height=0.9,
    )
    corners = transform.apply_points(to_input_frame(table_corners()))
    np.testing.assert_allclose(corners[:, 2], 0.9, atol=1e-9)
    assert transform.scale == pytest.approx(1 / SCALE, rel=1e-12)
    assert record["steps"][2]["method"] == "given"


def test_unify_frame_defaults_are_identity():
    transform, record = unify_frame(None)
    assert transform.is_identity()
    assert record["steps"] == []  # nothing asked, nothing recorded (z up is no step)


@pytest.mark.parametrize(
    ("call", "source"),
    [
        (lambda: up_axis_rotation("w"), "up_axis"),
        (lambda: up_axis_rotation("xy"), "up_axis"),
        (lambda: scale_from_distance([1, 2, 3], [1, 2, 3], 1.0), "p1, p2"),
        (lambda: scale_from_distance([0, 0, 0], [1, 0, 0], 0.0), "metres"),
        (lambda: scale_from_distance([0, 0, 0], [1, 0, 0], -2.0), "metres"),
        (lambda: scale_from_distance([0, 0, 0], [1, 0, 0], float("nan")), "metres"),
        (lambda: scale_from_distance([0, 0, 0], [1, 0, 0], float("inf")), "metres"),
        (lambda: scale_from_distance([0, np.nan, 0], [1, 0, 0], 1.0), "p1"),
        (lambda: scale_from_distance([0, 0, 0], [np.inf, 0, 0], 1.0), "p2"),
        (lambda: origin_shift([0.0, np.nan, 0.0]), "point"),
        (lambda: fit_table_plane(np.zeros((2, 3))), "points"),
        (lambda: fit_table_plane(np.zeros((10, 2))), "points"),
        (lambda: fit_table_plane(np.array([[0, 0, 0], [1, 1, 0], [np.nan, 0, 0], [2, 0, 1.0]])), "points"),
        (lambda: fit_table_plane(np.linspace(0, 1, 50)[:, None] * [1.0, 2.0, 3.0]), "points"),  # collinear
        (lambda: fit_table_plane(np.zeros((10, 3))), "points"),  # coincident
        (lambda: fit_table_plane(workcell(), max_tilt_deg=0.0), "max_tilt_deg"),
        (lambda: fit_table_plane(workcell(), inlier_threshold=0.0), "inlier_threshold"),
        (lambda: fit_table_plane(workcell(), prefer="lowest"), "prefer"),
        (lambda: fit_table_plane(workcell(), up_hint=(0, 0, 0)), "up_hint"),
        (lambda: unify_frame(None, table="auto"), "points"),
        (lambda: unify_frame(None, table="flat"), "table"),
        (lambda: unify_frame(None, scale_from=([0, 0, 0], [1, 0, 0])), "scale_from"),
        (lambda: unify_frame(None, origin=[0, 0]), "origin"),
    ],
)
def test_bad_input_raises_input_error(call, source):
    with pytest.raises(InputError) as caught:
        call()
    assert caught.value.source == source


def test_no_plane_within_tilt_limit():
    # Only a vertical wall (x = 2): every plane through its points is 90 deg from the up hint.
    rng = np.random.default_rng(8)
    wall = np.column_stack([np.full(3000, 2.0), rng.uniform(-1, 1, 3000), rng.uniform(0, 2, 3000)])
    with pytest.raises(InputError, match="no plane within 30") as caught:
        fit_table_plane(wall + rng.normal(0, 1e-3, wall.shape))
    assert caught.value.source == "points"
    # The same wall is found once the up hint lies along its normal.
    assert angle_deg(fit_table_plane(wall, up_hint=(1.0, 0.0, 0.0)).normal, np.array([1.0, 0.0, 0.0])) < 1e-6
