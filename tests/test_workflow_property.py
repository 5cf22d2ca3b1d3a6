"""A scripted session of up to 40 mixed operations in random order (imports before and after align, align fresh,
composed and redone, invert, remove, re-import with --replace) ends with every prim where a hand-computed reference
puts it (1e-6 m) and every mass as given or prior x s^3 (property-based, hypothesis).

The reference model is independent of the code: it keeps, per prim, the source-to-reconstruction similarity and
the twin's recorded alignment as 4x4 float64 matrices built from the operations' parameters (the up-axis
rotation written out by hand, scale = metres / distance, origin shift -s R o), and predicts refusals (align on an
aligned twin, invert on an unaligned one, doubled up axis or scale, a taken or missing prim).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import trimesh
from conftest import random_gaussians
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pxr import Usd, UsdGeom, UsdPhysics

from splattwin.errors import SplatTwinError
from splattwin.io import write_gaussians
from splattwin.mesh import MATERIALS
from splattwin.pipelines import (
    AlignConfig,
    ImportMeshConfig,
    ImportSplatConfig,
    RemoveConfig,
    align_twin,
    import_mesh,
    import_splat,
    remove_prim,
)
from splattwin.usd import read_gaussians_prim

TOL_M = 1e-6
Y_UP = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=float)  # +90 deg about x: y-up -> z-up
UP = {"z": np.eye(3), "y": Y_UP}
PRIMS = {
    "splat": ["/World/Scene/SplatA", "/World/Scene/SplatB"],
    "static": ["/World/Scene/Floor"],
    "dynamic": ["/World/Objects/BoxA", "/World/Objects/BoxB"],
}
WOOD = MATERIALS["wood"].density_kg_m3


def similarity(scale: float = 1.0, rotation: np.ndarray | None = None, translation=(0.0, 0.0, 0.0)) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = scale * (np.eye(3) if rotation is None else rotation)
    m[:3, 3] = translation
    return m


def apply(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ m[:3, :3].T + m[:3, 3]


def scale_of(m: np.ndarray) -> float:
    return float(np.cbrt(np.linalg.det(m[:3, :3])))


@dataclass
class Sources:
    splat: Path
    splat_means: np.ndarray
    floor: Path
    floor_vertices: np.ndarray
    box: Path
    box_vertices: np.ndarray
    box_centre: np.ndarray
    box_volume: float


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Sources:
    root = tmp_path_factory.mktemp("property_sources")
    gaussians = random_gaussians(40, degree=0, seed=11)
    gaussians.means[:] = np.random.default_rng(12).uniform(-0.5, 0.5, (40, 3))
    write_gaussians(root / "splat.ply", gaussians)
    floor = trimesh.creation.box(extents=(1.0, 0.8, 0.02))
    floor.apply_translation((0.1, 0.0, -0.01))
    floor.export(root / "floor.obj")
    box = trimesh.creation.box(extents=(0.1, 0.06, 0.05))
    box.apply_translation((0.2, -0.1, 0.3))
    box.export(root / "box.obj")
    return Sources(
        splat=root / "splat.ply",
        splat_means=gaussians.means.astype(np.float64),
        floor=root / "floor.obj",
        floor_vertices=np.array(floor.vertices),
        box=root / "box.obj",
        box_vertices=np.array(box.vertices),
        box_centre=np.array([0.2, -0.1, 0.3]),
        box_volume=0.1 * 0.06 * 0.05,
    )


@dataclass
class Model:
    """The hand-computed state of the twin: alignment (None: unaligned) and each prim's source-to-recon map."""

    alignment: np.ndarray | None = None
    up_applied: str = "z"
    scale_applied: bool = False
    prims: dict[str, dict] = field(default_factory=dict)

    def to_world(self, prim: str) -> np.ndarray:
        recon = self.prims[prim]["recon"]
        return recon if self.alignment is None else self.alignment @ recon


imports = st.tuples(
    st.sampled_from(["splat", "static", "dynamic"]),
    st.integers(0, 1),
    st.sampled_from(["z", "z", "y"]),
    st.sampled_from([1.0, 1.0, 0.5, 2.0]),
    st.booleans(),  # --metric
    st.booleans(),  # --replace
    st.sampled_from([None, 0.25]),  # --mass
).map(lambda t: ("import", *t))
aligns = st.tuples(
    st.sampled_from(["fresh", "fresh", "compose", "redo"]),
    st.sampled_from(["z", "y"]),
    st.sampled_from([None, 0.8, 1.25, 2.0]),  # scale factor for --scale-from (None: no scale step)
    st.sampled_from([None, (0.1, -0.2, 0.05), (-0.3, 0.1, 0.2)]),
).map(lambda t: ("align", *t))
others = st.one_of(
    st.just(("invert",)),
    st.tuples(st.just("remove"), st.sampled_from([p for group in PRIMS.values() for p in group])),
)
sessions = st.lists(st.one_of(imports, imports, aligns, others), min_size=15, max_size=40)


def _expect_refusal(call) -> None:
    with pytest.raises(SplatTwinError):
        call()


def _run_import(stage: Path, src: Sources, model: Model, op: tuple) -> None:
    _, kind, index, up, scale, metric, replace, mass = op
    prim = PRIMS[kind][min(index, len(PRIMS[kind]) - 1)]
    if kind != "dynamic":
        mass = None
    source = {"splat": src.splat, "static": src.floor, "dynamic": src.box}[kind]
    if kind == "splat":
        call = lambda: import_splat(  # noqa: E731
            ImportSplatConfig(
                source=source, stage=stage, prim=prim, up_axis=up, scale=scale, metric=metric, replace=replace
            )
        )
    else:
        call = lambda: import_mesh(  # noqa: E731
            ImportMeshConfig(
                source=source,
                stage=stage,
                prim=prim,
                dynamic=kind == "dynamic",
                mass=mass,
                up_axis=up,
                scale=scale,
                metric=metric,
                replace=replace,
            )
        )
    aligned = model.alignment is not None
    doubled = (
        aligned and not metric and ((up != "z" and model.up_applied != "z") or (scale != 1 and model.scale_applied))
    )
    if (prim in model.prims and not replace) or doubled:
        _expect_refusal(call)
        return
    call()
    import_tf = similarity(scale, UP[up])
    to_twin = model.alignment @ import_tf if aligned and not metric else import_tf
    recon = np.linalg.inv(model.alignment) @ to_twin if aligned else to_twin
    model.prims[prim] = {"kind": kind, "recon": recon, "mass": mass, "up": up, "scale": scale, "metric": metric}


def _run_align(stage: Path, model: Model, op: tuple) -> None:
    _, how, up, factor, origin = op
    if how == "compose":
        up = "z"  # composing turns of the up axis is allowed but makes no sense to script
    config = {"stage": stage, "up_axis": up, "compose": how == "compose", "redo": how == "redo"}
    p1, p2 = np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.2, 0.3]) + np.array([0.6, 0.0, 0.8])  # 1 unit apart
    if factor is not None:
        config["scale_from"] = (tuple(p1), tuple(p2), factor)
    if origin is not None:
        config["origin"] = origin
    if factor is None and origin is None and up == "z":
        config["origin"] = (0.0, 0.0, 0.0)  # something to do
    call = lambda: align_twin(AlignConfig(**config))  # noqa: E731
    aligned = model.alignment is not None
    if (how == "fresh" and aligned) or (how != "fresh" and not aligned):
        _expect_refusal(call)
        return
    if how != "compose":
        plain = [p for p in model.prims.values() if not p["metric"]]
        if (up != "z" and any(p["up"] != "z" for p in plain)) or (
            factor is not None and any(p["scale"] != 1 for p in plain)
        ):
            _expect_refusal(call)
            return
    call()
    rotation = UP[up]
    s = 1.0 if factor is None else factor / float(np.linalg.norm(p2 - p1))
    t = -s * rotation @ np.asarray(config.get("origin", (0.0, 0.0, 0.0)), dtype=float)
    step = similarity(s, rotation, t)
    if how == "compose":
        model.alignment = step @ model.alignment
        model.scale_applied = model.scale_applied or factor is not None
    else:
        model.alignment = step
        model.up_applied = up
        model.scale_applied = factor is not None
    if how == "compose" and up != "z":
        model.up_applied = up


def _check(stage: Path, src: Sources, model: Model) -> None:
    usd = Usd.Stage.Open(str(stage))
    for path, info in model.prims.items():
        prim = usd.GetPrimAtPath(path)
        assert prim, f"{path} missing"
        world = model.to_world(path)
        local_to_world = np.array(UsdGeom.Xformable(prim).ComputeLocalToWorldTransform(Usd.TimeCode.Default())).T
        if info["kind"] == "splat":
            means = apply(local_to_world, read_gaussians_prim(prim).means.astype(np.float64))
            np.testing.assert_allclose(means, apply(world, src.splat_means), atol=TOL_M, rtol=0)
            continue
        mesh_prim = prim if info["kind"] == "static" else usd.GetPrimAtPath(f"{path}/collision")
        mesh_to_world = np.array(UsdGeom.Xformable(mesh_prim).ComputeLocalToWorldTransform(Usd.TimeCode.Default())).T
        points = apply(mesh_to_world, np.asarray(UsdGeom.Mesh(mesh_prim).GetPointsAttr().Get(), dtype=np.float64))
        expected = apply(world, src.floor_vertices if info["kind"] == "static" else src.box_vertices)
        gaps = np.linalg.norm(points[:, None] - expected[None], axis=-1)
        assert gaps.min(axis=1).max() < TOL_M and gaps.min(axis=0).max() < TOL_M, (path, gaps.min(axis=1).max())
        if info["kind"] == "dynamic":
            np.testing.assert_allclose(local_to_world[:3, 3], apply(world, src.box_centre), atol=TOL_M, rtol=0)
            mass = float(UsdPhysics.MassAPI(prim).GetMassAttr().Get())
            want = info["mass"] if info["mass"] is not None else WOOD * src.box_volume * scale_of(world) ** 3
            assert mass == pytest.approx(want, rel=1e-6)
    for group in PRIMS.values():
        for path in group:
            if path not in model.prims:
                assert not usd.GetPrimAtPath(path), f"{path} should be gone"


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(session=sessions)
def test_random_sessions_match_the_hand_computed_reference(sources: Sources, session: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        stage = Path(folder) / "twin.usda"
        model = Model()
        for op in session:
            if op[0] == "import":
                _run_import(stage, sources, model, op)
            elif op[0] == "align":
                if not stage.exists():
                    _expect_refusal(lambda: align_twin(AlignConfig(stage=stage, origin=(0.0, 0.0, 0.0))))
                    continue
                _run_align(stage, model, op)
            elif op[0] == "invert":
                call = lambda: align_twin(AlignConfig(stage=stage, invert=True))  # noqa: E731
                if model.alignment is None:
                    _expect_refusal(call)
                    continue
                call()
                model.alignment = None
                model.up_applied, model.scale_applied = "z", False
            else:
                call = lambda path=op[1]: remove_prim(RemoveConfig(stage=stage, prim=path))  # noqa: E731
                if op[1] not in model.prims:
                    _expect_refusal(call)
                    continue
                call()
                del model.prims[op[1]]
        if stage.exists():
            _check(stage, sources, model)
        event(f"{len(model.prims)} prims at the end, {'aligned' if model.alignment is not None else 'unaligned'}")
