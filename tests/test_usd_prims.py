"""splattwin.usd.prims: the one world-matrix helper, against transforms composed by hand."""

import numpy as np

from splattwin.usd.prims import world_matrix


def _rotation_z(degrees: float) -> np.ndarray:
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def test_world_matrix_is_column_vector_and_composes_parents() -> None:
    from pxr import Usd, UsdGeom

    stage = Usd.Stage.CreateInMemory()
    parent = UsdGeom.Xform.Define(stage, "/World")
    parent.AddTranslateOp().Set((1.0, 2.0, 3.0))
    parent.AddRotateZOp().Set(90.0)
    child = UsdGeom.Xform.Define(stage, "/World/Body")
    child.AddTranslateOp().Set((0.5, 0.0, 0.0))
    child.AddScaleOp().Set((2.0, 2.0, 2.0))
    scope = UsdGeom.Scope.Define(stage, "/World/Body/Parts")  # no transform of its own: inherits its parent's

    # By hand: x_world = T(1,2,3) Rz(90) (T(0.5,0,0) S(2) x); the point (1, 0, 0) of the body lands at
    # Rz(90) (0.5 + 2, 0, 0) + (1, 2, 3) = (1, 2 + 2.5, 3).
    expected = np.eye(4)
    expected[:3, :3] = _rotation_z(90.0) * 2.0
    expected[:3, 3] = [1.0, 2.5, 3.0]
    for prim in (child.GetPrim(), scope.GetPrim()):
        matrix = world_matrix(prim)
        assert matrix.dtype == np.float64 and matrix.shape == (4, 4)
        np.testing.assert_allclose(matrix, expected, atol=1e-12)
        np.testing.assert_allclose(matrix @ [1.0, 0.0, 0.0, 1.0], [1.0, 4.5, 3.0, 1.0], atol=1e-12)


def test_world_matrix_at_a_time_code() -> None:
    from pxr import Usd, UsdGeom

    stage = Usd.Stage.CreateInMemory()
    body = UsdGeom.Xform.Define(stage, "/Body")
    translate = body.AddTranslateOp()
    translate.Set((0.0, 0.0, 0.0), 0.0)
    translate.Set((2.0, 0.0, 0.0), 10.0)
    translate.Set((9.0, 9.0, 9.0))  # the default value, what no time code reads
    np.testing.assert_allclose(world_matrix(body.GetPrim(), 5.0)[:3, 3], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(world_matrix(body.GetPrim(), Usd.TimeCode(10.0))[:3, 3], [2.0, 0.0, 0.0])
    np.testing.assert_allclose(world_matrix(body.GetPrim())[:3, 3], [9.0, 9.0, 9.0])
