"""``splattwin view``'s bad input and pure parts, without a browser: a port in use is one line naming another to
try, a missing stage one line, a stage that is not a twin is still read (as ``inspect`` does), and the pose maths
(covariances, node transforms, timeline sampling) against hand-computed values."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("viser")
pytest.importorskip("pxr")

from splattwin.cli import main  # noqa: E402
from splattwin.viewer.model import Timeline, covariances, node_poses, read_model, sample_timeline  # noqa: E402


def test_a_port_in_use_is_one_line_naming_another(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from pxr import Usd

    stage = tmp_path / "plain.usda"
    created = Usd.Stage.CreateNew(str(stage))
    created.GetRootLayer().Save()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["view", str(stage), "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --port: {port} is in use on 127.0.0.1; try another (e.g. --port {port + 1})"]


def test_a_missing_stage_is_one_line(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["view", "--stage", str(tmp_path / "nope.usda")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nope.usda'}: no such USD file"


def test_a_stage_that_is_not_a_twin_is_shown_as_far_as_it_goes(tmp_path: Path) -> None:
    from pxr import Gf, Usd, UsdGeom

    path = tmp_path / "plain.usda"
    stage = Usd.Stage.CreateNew(str(path))
    cube = UsdGeom.Mesh.Define(stage, "/Box")
    cube.GetPointsAttr().Set([Gf.Vec3f(0, 0, 0), Gf.Vec3f(1, 0, 0), Gf.Vec3f(0, 1, 0)])
    cube.GetFaceVertexCountsAttr().Set([3])
    cube.GetFaceVertexIndicesAttr().Set([0, 1, 2])
    stage.GetRootLayer().Save()
    model = read_model(path)
    assert not model.twin and model.splats == []
    assert [m.prim for m in model.meshes] == ["/Box"]
    assert any("not a SplatTwin twin" in p for p in model.problems)
    assert any("no Gaussian prims" in p for p in model.problems)


def test_covariance_of_a_rotated_gaussian_by_hand() -> None:
    half = np.sqrt(0.5)  # 90 degrees about z: x and y swap
    cov = covariances(np.array([[half, 0, 0, half]]), np.array([[0.1, 0.2, 0.3]]))[0]
    np.testing.assert_allclose(cov, np.diag([0.04, 0.01, 0.09]), atol=1e-7)


def test_only_nodes_following_a_posed_prim_move_and_by_posed_times_inverse_rest() -> None:
    rest = {"/R/link": np.eye(4)}
    rest["/R/link"][:3, 3] = (1.0, 0.0, 0.0)
    posed = np.eye(4)
    posed[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]  # the link turned 90 degrees about z at the origin
    posed[:3, 3] = (0.0, 1.0, 0.0)
    moves = node_poses({"a": "/R/link", "b": None}, rest, {"/R/link": posed})
    assert set(moves) == {"a"}
    point_at_rest = np.array([1.5, 0.0, 0.0, 1.0])  # 0.5 m along the link's x
    np.testing.assert_allclose(moves["a"] @ point_at_rest, [0.0, 1.5, 0.0, 1.0], atol=1e-12)


def test_timeline_interpolates_and_holds_at_the_ends() -> None:
    timeline = Timeline(0.0, 2.0, 10.0, joints={"/R": (["j"], np.array([0.0, 2.0]), np.array([[0.0], [1.0]]))})
    assert sample_timeline(timeline, 0.5) == {"j": pytest.approx(0.25)}
    assert sample_timeline(timeline, 5.0) == {"j": pytest.approx(1.0)}
