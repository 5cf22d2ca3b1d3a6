"""Gaussian-link binding on the real Panda URDF: Gaussians sampled on a link's surface land on that link, bound
Gaussians stay on their link's surface at any pose (checked with trimesh's brute-force closest point), the
stored binding reproduces the means, and posing turns means, orientations and SH with the link."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pybullet_data = pytest.importorskip("pybullet_data")

from splattwin.errors import InputError  # noqa: E402
from splattwin.geometry.sh_rotation import rotate_sh  # noqa: E402
from splattwin.geometry.transforms import quat_wxyz_to_matrix  # noqa: E402
from splattwin.io import write_gaussians  # noqa: E402
from splattwin.pipelines.robot import BINDING_PRIMVARS, ImportRobotConfig, import_robot  # noqa: E402
from splattwin.robot import load_robot  # noqa: E402
from splattwin.robot.binding import bind_gaussians  # noqa: E402
from splattwin.robot.synthetic import robot_splat_from_meshes  # noqa: E402
from splattwin.robot.usd_robot import link_meshes  # noqa: E402
from splattwin.usd import open_twin  # noqa: E402

PANDA = Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"
Q_CAPTURE = {
    "panda_joint1": 0.4,
    "panda_joint2": -0.5,
    "panda_joint3": 0.3,
    "panda_joint4": -2.1,
    "panda_joint5": 0.2,
    "panda_joint6": 1.7,
    "panda_joint7": 0.6,
    "panda_finger_joint1": 0.03,
}


@pytest.fixture(scope="module")
def panda(tmp_path_factory: pytest.TempPathFactory):
    """The Panda imported without a scan, its link meshes, and a seeded splat made on them at Q_CAPTURE."""
    folder = tmp_path_factory.mktemp("panda")
    stage = folder / "bare.usda"
    import_robot(ImportRobotConfig(urdf=PANDA, stage=stage, prim="/World/Robot", gaussians_per_link=50))
    robot = load_robot(stage, "/World/Robot")
    twin = open_twin(stage)
    meshes = [link_meshes(twin.stage, p) for p in robot.link_paths]
    q = robot.check_joint_values(Q_CAPTURE, "test")
    splat, source = robot_splat_from_meshes(robot, meshes, q, count=20_000, seed=1)
    return {"folder": folder, "robot": robot, "meshes": meshes, "q": q, "splat": splat, "source": source}


def test_surface_samples_land_on_their_link(panda) -> None:
    robot, meshes, q = panda["robot"], panda["meshes"], panda["q"]
    poses = robot.link_poses(torch.tensor(q[None]))[0].numpy()
    binding = bind_gaussians(panda["splat"].means, meshes, poses, threshold=0.01)
    assert binding.unbound == 0
    agree = float((binding.link == panda["source"]).mean())
    assert agree >= 0.98, agree
    assert binding.distance.max() < 1e-4  # sampled on the surface (float32 storage of the splat)
    # A wrong pose (the rest pose) must bind worse: the check depends on the kinematics.
    rest = robot.link_poses(torch.zeros(1, robot.dof, dtype=torch.float64))[0].numpy()
    wrong = bind_gaussians(panda["splat"].means, meshes, rest, threshold=0.01)
    assert (wrong.link == panda["source"]).mean() < 0.9


def test_import_with_splat_binds_and_stays_on_surface(panda) -> None:
    import trimesh

    folder = panda["folder"]
    splat_path, joints_path, stage = folder / "robot.ply", folder / "joints.json", folder / "scan.usda"
    write_gaussians(splat_path, panda["splat"])
    joints_path.write_text(json.dumps(Q_CAPTURE))
    result = import_robot(
        ImportRobotConfig(urdf=PANDA, stage=stage, prim="/World/Robot", splat=splat_path, splat_joints=joints_path)
    )
    assert sum(result.gaussians_per_link.values()) + result.unbound == 20_000
    assert result.unbound == 0
    expected = np.bincount(panda["source"], minlength=len(panda["robot"].link_names))
    for i, name in enumerate(panda["robot"].link_names):
        # within 2% of the sampled counts per link (the rest sits where two links' surfaces meet)
        assert abs(result.gaussians_per_link.get(name, 0) - expected[i]) <= max(0.02 * expected[i], 5), name

    robot = load_robot(stage, "/World/Robot")
    twin = open_twin(stage)
    # the scan's configuration is kept on the stage: customData and the drives' targets (degrees for angular)
    from pxr import UsdPhysics

    kept = twin.stage.GetPrimAtPath("/World/Robot").GetCustomDataByKey("splattwin:captureJoints")
    assert kept["panda_finger_joint2"] == pytest.approx(Q_CAPTURE["panda_finger_joint1"])  # the mimic follows
    drive = UsdPhysics.DriveAPI.Get(twin.stage.GetPrimAtPath("/World/Robot/joints/panda_joint4"), "angular")
    assert drive.GetTargetPositionAttr().Get() == pytest.approx(np.degrees(Q_CAPTURE["panda_joint4"]), abs=1e-4)
    rng = np.random.default_rng(2)
    limits = robot.joint_limits.numpy()
    q = torch.tensor(rng.uniform(limits[:, 0], limits[:, 1], size=(1, robot.dof)))
    posed = robot.pose_gaussians(q)
    poses = robot.link_poses(q)[0].numpy()
    means = posed["means"][0].numpy()
    link_index = posed["link_index"].numpy()
    worst = 0.0
    for i, path in enumerate(robot.link_paths):
        rows = np.flatnonzero(link_index == i)
        if len(rows) == 0:
            continue
        mesh = link_meshes(twin.stage, path)
        # the binding primvars reproduce the link-frame means exactly
        prim = twin.stage.GetPrimAtPath(f"{path}/Gaussians")
        tri = np.array(prim.GetAttribute(f"primvars:{BINDING_PRIMVARS[0]}").Get())
        bary = np.array(prim.GetAttribute(f"primvars:{BINDING_PRIMVARS[1]}").Get(), np.float64)
        offset = np.array(prim.GetAttribute(f"primvars:{BINDING_PRIMVARS[2]}").Get(), np.float64)
        corners = mesh.vertices[mesh.faces[tri]]
        normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        normal /= np.linalg.norm(normal, axis=1, keepdims=True)
        rebuilt = np.einsum("nk,nkd->nd", bary, corners) + offset[:, None] * normal
        stored = np.array(prim.GetAttribute("positions").Get(), np.float64)
        np.testing.assert_allclose(rebuilt, stored, atol=2e-6)
        # every bound Gaussian within 2 mm of its posed link surface (independent brute-force closest point)
        posed_mesh = trimesh.Trimesh(mesh.vertices @ poses[i][:3, :3].T + poses[i][:3, 3], mesh.faces, process=False)
        pick = rows if len(rows) <= 150 else rng.choice(rows, 150, replace=False)
        _, distance, _ = trimesh.proximity.closest_point_naive(posed_mesh, means[pick].astype(np.float64))
        worst = max(worst, float(distance.max()))
    assert worst < 0.002, worst


def test_pose_gaussians_turns_orientation_and_sh(tmp_path: Path) -> None:
    """Against numpy: q' = q_link q and the foundation's rotate_sh, per link."""
    stage = tmp_path / "twin.usda"
    import_robot(ImportRobotConfig(urdf=PANDA, stage=stage, prim="/World/Robot", gaussians_per_link=30))
    robot = load_robot(stage, "/World/Robot")
    # give the Gaussians random SH of degree 3 to check the rotation of every band
    rng = np.random.default_rng(4)
    n = robot.gaussians["means"].shape[0]
    sh = rng.normal(size=(n, 16, 3)).astype(np.float32)
    robot.gaussians["sh_km"] = torch.from_numpy(np.ascontiguousarray(sh.transpose(1, 0, 2)).reshape(16, n * 3))
    robot.gaussians["sh_degree"] = 3
    q = torch.tensor(rng.uniform(-1, 1, size=(2, robot.dof)) * 0.5)
    out = robot.pose_gaussians(q)
    poses = robot.link_poses(q).numpy()
    link = out["link_index"].numpy()
    for b in range(2):
        for i in np.unique(link):
            rows = link == i
            rot = poses[b, i, :3, :3]
            expected_sh = rotate_sh(sh[rows].astype(np.float64), rot)
            np.testing.assert_allclose(out["sh"][b, rows].numpy(), expected_sh, atol=2e-4)
            local_quats = robot.gaussians["quats_wxyz"][rows].numpy().astype(np.float64)
            turned = quat_wxyz_to_matrix(out["quats_wxyz"][b, rows].numpy().astype(np.float64))
            expected = rot @ quat_wxyz_to_matrix(local_quats)
            np.testing.assert_allclose(turned, expected, atol=1e-5)  # as matrices: free of the quaternion sign


def test_pose_gaussians_gradient_matches_central_differences(tmp_path: Path) -> None:
    stage = tmp_path / "twin.usda"
    import_robot(ImportRobotConfig(urdf=PANDA, stage=stage, prim="/World/Robot", gaussians_per_link=20))
    robot = load_robot(stage, "/World/Robot")
    rng = np.random.default_rng(9)
    q0 = torch.tensor(rng.uniform(-0.5, 0.5, size=(1, robot.dof)), requires_grad=True)
    w_means = torch.tensor(rng.normal(size=(1, robot.gaussians["means"].shape[0], 3)), dtype=torch.float32)

    def loss(q: torch.Tensor) -> torch.Tensor:
        out = robot.pose_gaussians(q)
        return (out["means"] * w_means).sum().double() + out["quats_wxyz"][..., 1].sum().double()

    loss(q0).backward()
    eps = 1e-3
    numeric = torch.zeros_like(q0)
    with torch.no_grad():
        for j in range(robot.dof):
            step = torch.zeros_like(q0)
            step[0, j] = eps
            numeric[0, j] = (loss(q0 + step) - loss(q0 - step)) / (2 * eps)
    scale = numeric.abs().max().item()
    assert scale > 1e-2
    assert (q0.grad - numeric).abs().max().item() < 2e-3 * scale


def test_splat_joints_errors(panda, tmp_path: Path) -> None:
    splat_path = tmp_path / "robot.ply"
    write_gaussians(splat_path, panda["splat"])
    stage = tmp_path / "twin.usda"
    for values, needle in (({"no_such_joint": 0.1}, "no_such_joint"), ({"panda_joint4": 0.5}, "outside its limits")):
        joints = tmp_path / "joints.json"
        joints.write_text(json.dumps(values))
        with pytest.raises(InputError, match=needle):
            import_robot(
                ImportRobotConfig(urdf=PANDA, stage=stage, prim="/World/Robot", splat=splat_path, splat_joints=joints)
            )
        assert not stage.exists()
    # a splat far from the robot: most Gaussians unbound -> refused, naming the splat
    far = tmp_path / "far.ply"
    moved = panda["splat"]
    moved.means = moved.means + np.float32(5.0)
    write_gaussians(far, moved)
    moved.means = moved.means - np.float32(5.0)
    joints = tmp_path / "ok.json"
    joints.write_text(json.dumps(Q_CAPTURE))
    with pytest.raises(InputError, match="does not overlap"):
        import_robot(ImportRobotConfig(urdf=PANDA, stage=stage, prim="/World/Robot", splat=far, splat_joints=joints))
    assert not stage.exists()


def _flat_axes_and_normals(mesh, gaussians, faces):
    """Each Gaussian's local z axis (scipy's quaternion -> matrix, scalar last) and its face's normal (trimesh)."""
    import trimesh
    from scipy.spatial.transform import Rotation

    q = np.asarray(gaussians.quats_wxyz, np.float64)
    axes = Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_matrix()[:, :, 2]
    normals = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).face_normals[faces]
    return axes, normals


def _test_meshes(panda) -> list:
    """An axis-aligned box (faces facing -z take the half-turn branch), a tilted stretched icosphere, and every
    Panda link mesh."""
    import trimesh
    from scipy.spatial.transform import Rotation

    from splattwin.robot.usd_robot import LinkMesh

    box = trimesh.creation.box((0.2, 0.1, 0.05))
    ball = trimesh.creation.icosphere(subdivisions=2, radius=0.1)
    ball.apply_scale((1.0, 0.6, 1.4))
    ball.apply_transform(
        np.block([[Rotation.from_rotvec([0.3, -1.1, 0.7]).as_matrix(), np.zeros((3, 1))], [0, 0, 0, 1]])
    )
    made = [LinkMesh(np.asarray(m.vertices), np.asarray(m.faces), np.full((len(m.faces), 3), 0.5)) for m in (box, ball)]
    return made + [m for m in panda["meshes"] if m is not None]


def test_gaussians_sampled_on_link_meshes_lie_flat_in_their_triangle(panda) -> None:
    """A Gaussian made from a link mesh is a disk in its triangle: its flat axis (local z, the smallest scale) is
    the face normal, as trimesh computes it from the winding (right-handed), and its other two axes are tangent;
    its covariance has the disk's thickness along the normal and its radius in the plane."""
    from splattwin.robot.binding import sample_link_gaussians

    rng = np.random.default_rng(5)
    for mesh in _test_meshes(panda):
        gaussians, faces = sample_link_gaussians(mesh, 400, rng)
        axes, normals = _flat_axes_and_normals(mesh, gaussians, faces)
        np.testing.assert_allclose(np.einsum("nd,nd->n", axes, normals), 1.0, atol=1e-6)
        scales = np.asarray(gaussians.scales, np.float64)
        assert (scales[:, 2] < 0.2 * scales[:, 0]).all() and (scales[:, 0] == scales[:, 1]).all()
        # the covariance seen along the normal is the thickness, along a tangent (edge direction) the radius
        from scipy.spatial.transform import Rotation

        q = np.asarray(gaussians.quats_wxyz, np.float64)
        rot = Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_matrix()
        cov = rot @ (scales[:, :, None] ** 2 * np.transpose(rot, (0, 2, 1)))
        tris = mesh.vertices[mesh.faces[faces]]
        edge = tris[:, 1] - tris[:, 0]
        edge /= np.linalg.norm(edge, axis=1, keepdims=True)
        np.testing.assert_allclose(np.einsum("ni,nij,nj->n", normals, cov, normals), scales[:, 2] ** 2, rtol=1e-6)
        np.testing.assert_allclose(np.einsum("ni,nij,nj->n", edge, cov, edge), scales[:, 0] ** 2, rtol=1e-6)


def test_imported_link_gaussians_keep_their_orientation_in_the_stage(panda) -> None:
    """End to end: the bare import wrote each link's Gaussians (quaternions through USD's quatf order) with their
    source triangle; read back, each one's flat axis is still its triangle's normal in the link frame."""
    from pxr import UsdGeom

    from splattwin.usd.splats import read_gaussians_prim

    twin = open_twin(panda["folder"] / "bare.usda")
    checked = 0
    for path, mesh in zip(panda["robot"].link_paths, panda["meshes"], strict=True):
        prim = twin.stage.GetPrimAtPath(f"{path}/Gaussians")
        if mesh is None or not prim:
            continue
        gaussians = read_gaussians_prim(prim)
        faces = np.asarray(UsdGeom.PrimvarsAPI(prim).GetPrimvar("splattwin:triangle").Get(), np.int64)
        axes, normals = _flat_axes_and_normals(mesh, gaussians, faces)
        np.testing.assert_allclose(np.einsum("nd,nd->n", axes, normals), 1.0, atol=1e-5, err_msg=path)
        checked += len(faces)
    assert checked >= 50 * 8
