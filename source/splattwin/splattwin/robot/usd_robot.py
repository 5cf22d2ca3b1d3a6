"""A robot on the twin stage: author a parsed URDF as a UsdPhysics articulation, and read it back.

Layout under the robot prim ``PATH`` (all in the twin's ``robot`` layer)::

    PATH                      Xform, UsdPhysics.ArticulationRootAPI, xformOp:transform = base pose (parent frame)
    PATH/<link>               Xform per URDF link (flat, in link order), transform = link pose at q = 0 relative
                              to PATH; RigidBodyAPI + MassAPI; the root link is kinematic (a fixed base)
    PATH/<link>/visuals/mesh_<i>     Mesh in the link frame, per-face displayColor from the mesh's materials
    PATH/<link>/collisions/mesh_<i>  Mesh in the link frame, CollisionAPI + MeshCollisionAPI (convex hull)
    PATH/<link>/Gaussians     ParticleField3DGaussianSplat in the link frame (splattwin.robot.binding)
    PATH/joints/<joint>       RevoluteJoint / PrismaticJoint / FixedJoint, URDF document order; body0 = parent
                              link, body1 = child link; limits (revolute in degrees, as UsdPhysics wants), a
                              DriveAPI (angular/linear) with maxForce = URDF effort; mimic joints carry
                              ``splattwin:mimic:joint`` (relationship), ``:multiplier`` and ``:offset``

Joint frames: ``localPos0/localRot0`` is the URDF joint origin in the parent link frame, turned so that the joint's
USD axis token (X, Y or Z) is the URDF axis; ``localRot1`` is the same turn in the child link frame (child link
frame = URDF joint frame). So ``T_child = T_parent @ L0 @ motion(axis, q) @ inverse(L1)``, which is what
:mod:`splattwin.robot.kinematics` evaluates from these attributes (the stage, not the URDF, is the source).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from splattwin.errors import InputError, StageError
from splattwin.geometry.transforms import quat_wxyz_to_matrix
from splattwin.robot.urdf import UrdfGeometry, UrdfRobot
from splattwin.usd.prims import world_matrix

if TYPE_CHECKING:
    from pxr import Usd

__all__ = [
    "ROBOT_KEY",
    "ArticulationGraph",
    "JointSpec",
    "LinkMesh",
    "RobotSpec",
    "articulation_graph",
    "articulation_problems",
    "author_robot",
    "describe_robots",
    "find_robots",
    "geometry_mesh",
    "link_meshes",
    "link_order",
    "print_robots",
    "read_robot_spec",
]

ROBOT_KEY = "splattwin:robot"
"""customData key on the robot prim: {urdf, name}; marks a prim as a SplatTwin robot root."""

_AXIS_TOKENS = {"X": np.array([1.0, 0, 0]), "Y": np.array([0, 1.0, 0]), "Z": np.array([0, 0, 1.0])}
_DEFAULT_GREY = (0.7, 0.7, 0.7)


@dataclass
class LinkMesh:
    """A link's triangle surface in its own frame: vertices [V, 3] m, faces [F, 3], per-face RGB [F, 3] in [0, 1]."""

    vertices: np.ndarray
    faces: np.ndarray
    face_colors: np.ndarray


@dataclass
class JointSpec:
    """A joint as read from the stage (column-vector 4x4 frames, metres, radians)."""

    name: str
    type: str  # revolute, continuous, prismatic, fixed
    parent: str  # link name
    child: str
    local0: np.ndarray  # joint frame in the parent link frame [4, 4]
    local1: np.ndarray  # joint frame in the child link frame [4, 4]
    axis: str  # X, Y or Z
    lower: float = -np.inf
    upper: float = np.inf
    mimic: tuple[str, float, float] | None = None
    effort: float = 0.0


@dataclass
class RobotSpec:
    """Everything kinematics needs, read from the stage."""

    prim: str
    link_names: list[str]
    link_paths: list[str]
    root_link: str
    root_local: np.ndarray  # root link transform relative to the robot prim [4, 4]
    base_world: np.ndarray  # robot prim local-to-world [4, 4]
    joints: list[JointSpec] = field(default_factory=list)


def _frame(pos: Any, rot: Any) -> np.ndarray:
    matrix = np.eye(4)
    matrix[:3, :3] = quat_wxyz_to_matrix([rot.GetReal(), *rot.GetImaginary()])
    matrix[:3, 3] = np.array(pos, dtype=np.float64)
    return matrix


def _axis_turn(axis: np.ndarray) -> tuple[str, np.ndarray]:
    """USD axis token and the rotation A (joint frame -> turned frame) with A @ e_token = axis."""
    for token, unit in _AXIS_TOKENS.items():
        if np.allclose(axis, unit, atol=1e-12):
            return token, np.eye(3)
    # A rotation taking +X onto the axis (Rodrigues); any one is fine, the joint only moves about that axis.
    x = np.array([1.0, 0, 0])
    v = np.cross(x, axis)
    c = float(np.dot(x, axis))
    if np.linalg.norm(v) < 1e-12:  # axis = -X: half turn about Z
        return "X", np.diag([-1.0, -1.0, 1.0])
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return "X", np.eye(3) + vx + vx @ vx / (1 + c)


def geometry_mesh(geometry: UrdfGeometry, where: str) -> LinkMesh:
    """A URDF geometry as a triangle mesh in the link frame (its origin and scale applied), with face colours.

    Meshes keep their materials' colours face by face (the Panda's hand is white, grey and black); the URDF
    ``<material>`` colour is used where the mesh file has none, grey where neither has one.
    """
    import trimesh  # noqa: PLC0415

    if geometry.kind == "mesh":
        try:
            loaded = trimesh.load(str(geometry.mesh_path), process=False)
        except Exception as exc:  # trimesh raises many types for unreadable files
            raise InputError(geometry.mesh_path, f"cannot read mesh of {where}: {exc}") from None
        # A scene (an OBJ with several materials) is flattened with its node transforms applied.
        parts = loaded.dump() if isinstance(loaded, trimesh.Scene) else [loaded]
        parts = [p for p in parts if isinstance(p, trimesh.Trimesh) and len(p.faces)]
        if not parts:
            raise InputError(geometry.mesh_path, f"mesh of {where} has no triangles")
        vertices, faces, colors, offset = [], [], [], 0
        for part in parts:
            rgb = _part_colour(part, geometry)
            vertices.append(np.asarray(part.vertices, np.float64) * geometry.scale)
            faces.append(np.asarray(part.faces, np.int64) + offset)
            colors.append(np.broadcast_to(rgb, (len(part.faces), 3)))
            offset += len(part.vertices)
        mesh = LinkMesh(np.concatenate(vertices), np.concatenate(faces), np.concatenate(colors).astype(np.float32))
    else:
        if geometry.kind == "box":
            shape = trimesh.creation.box(extents=geometry.size)
        elif geometry.kind == "cylinder":
            shape = trimesh.creation.cylinder(radius=geometry.size[0], height=geometry.size[1], sections=32)
        else:
            shape = trimesh.creation.icosphere(subdivisions=3, radius=geometry.size[0])
        rgb = np.array(geometry.rgba[:3] if geometry.rgba else _DEFAULT_GREY, np.float32)
        mesh = LinkMesh(
            np.asarray(shape.vertices, np.float64),
            np.asarray(shape.faces, np.int64),
            np.broadcast_to(rgb, (len(shape.faces), 3)).astype(np.float32),
        )
    if not np.isfinite(mesh.vertices).all():
        raise InputError(geometry.mesh_path or where, f"mesh of {where} has NaN/Inf vertices")
    mesh.vertices = mesh.vertices @ geometry.origin[:3, :3].T + geometry.origin[:3, 3]
    return mesh


def _part_colour(part: Any, geometry: UrdfGeometry) -> np.ndarray:
    material = getattr(part.visual, "material", None)
    main = getattr(material, "main_color", None)
    if main is not None:
        rgb = np.asarray(main[:3], np.float32) / 255.0
        # An untextured white default from trimesh says nothing: prefer the URDF colour then.
        if not (np.allclose(rgb, 1.0) and geometry.rgba is not None):
            return rgb
    if geometry.rgba is not None:
        return np.asarray(geometry.rgba[:3], np.float32)
    return np.asarray(_DEFAULT_GREY, np.float32)


def _prim_name(name: str) -> str:
    from pxr import Tf  # noqa: PLC0415

    return Tf.MakeValidIdentifier(name)


def _matrix_to_gf(matrix: np.ndarray) -> Any:
    from pxr import Gf  # noqa: PLC0415

    return Gf.Matrix4d(np.asarray(matrix, dtype=np.float64).T.tolist())


def _rot_to_quatf(rotation: np.ndarray) -> Any:
    from pxr import Gf  # noqa: PLC0415

    quat = Gf.Matrix3d(np.asarray(rotation, np.float64).T.tolist()).ExtractRotation().GetQuat()
    return Gf.Quatf(quat.GetReal(), Gf.Vec3f(quat.GetImaginary()))


def link_order(robot: UrdfRobot) -> list[str]:
    """Links depth-first from the root, children in joint document order (the order of ``link_names``)."""
    children: dict[str, list[str]] = {}
    for joint in robot.joints:
        children.setdefault(joint.parent, []).append(joint.child)
    order, stack = [], [robot.root]
    while stack:
        name = stack.pop()
        order.append(name)
        stack.extend(reversed(children.get(name, [])))
    return order


def _rest_poses(robot: UrdfRobot) -> dict[str, np.ndarray]:
    poses = {robot.root: np.eye(4)}
    by_child = {j.child: j for j in robot.joints}
    for name in link_order(robot)[1:]:
        joint = by_child[name]
        poses[name] = poses[joint.parent] @ joint.origin
    return poses


def author_robot(
    stage: Usd.Stage,
    prim_path: str,
    robot: UrdfRobot,
    *,
    base_local: np.ndarray,
    drive_stiffness: float = 1000.0,
    drive_damping: float = 100.0,
) -> dict[str, list[LinkMesh]]:
    """Author ``robot`` under ``prim_path`` at the stage's edit target (the twin's robot layer).

    Args:
        stage: the stage, edit target set to the robot layer.
        prim_path: the new robot prim.
        robot: a parsed, checked URDF.
        base_local: robot prim transform in its parent's frame [4, 4] (column-vector, metres).
        drive_stiffness: joint drive stiffness per radian (revolute) or per metre (prismatic).
        drive_damping: joint drive damping per rad/s or m/s.

    Returns:
        Link name -> its visual meshes in the link frame (collision meshes when a link has no visual), for binding.
    """
    from pxr import Sdf, UsdGeom, UsdPhysics, Vt  # noqa: PLC0415

    from splattwin.usd.bodies import define_mesh, principal_inertia  # noqa: PLC0415

    root = UsdGeom.Xform.Define(stage, prim_path)
    root.AddTransformOp().Set(_matrix_to_gf(base_local))
    UsdPhysics.ArticulationRootAPI.Apply(root.GetPrim())
    root.GetPrim().SetCustomDataByKey(ROBOT_KEY, {"urdf": str(robot.path.resolve()), "name": robot.name})
    rest = _rest_poses(robot)
    meshes: dict[str, list[LinkMesh]] = {}
    link_paths = {}
    for name in link_order(robot):
        link = robot.links[name]
        path = f"{prim_path}/{_prim_name(name)}"
        if path in link_paths.values():
            raise InputError(robot.path, f"link {name!r} maps to prim {path}, which another link already uses")
        link_paths[name] = path
        xform = UsdGeom.Xform.Define(stage, path)
        xform.AddTransformOp().Set(_matrix_to_gf(rest[name]))
        prim = xform.GetPrim()
        prim.SetCustomDataByKey("splattwin:urdfName", name)
        body = UsdPhysics.RigidBodyAPI.Apply(prim)
        if name == robot.root:
            body.CreateKinematicEnabledAttr().Set(True)  # fixed base: it follows its transform
        if link.mass > 0:
            mass = UsdPhysics.MassAPI.Apply(prim)
            mass.CreateMassAttr().Set(float(link.mass))
            mass.CreateCenterOfMassAttr().Set(tuple(float(v) for v in link.com))
            moments, axes = principal_inertia(link.inertia)
            if (moments > 0).all():  # both or neither, as UsdPhysics' validator wants
                mass.CreateDiagonalInertiaAttr().Set(tuple(float(v) for v in moments))
                mass.CreatePrincipalAxesAttr().Set(_rot_to_quatf(axes))
        visual = [geometry_mesh(g, f"link {name!r} visual") for g in link.visuals]
        collision = [geometry_mesh(g, f"link {name!r} collision") for g in link.collisions]
        for kind, parts in (("visuals", visual), ("collisions", collision)):
            for i, part in enumerate(parts):
                mesh = define_mesh(stage, f"{path}/{kind}/mesh_{i}", part.vertices, part.faces)
                if kind == "visuals":
                    color = mesh.CreateDisplayColorPrimvar(UsdGeom.Tokens.uniform)
                    color.Set(Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(part.face_colors, np.float32)))
                else:
                    mesh.CreatePurposeAttr().Set(UsdGeom.Tokens.guide)
                    UsdPhysics.CollisionAPI.Apply(mesh.GetPrim())
                    UsdPhysics.MeshCollisionAPI.Apply(mesh.GetPrim()).CreateApproximationAttr().Set(
                        UsdPhysics.Tokens.convexHull
                    )
        meshes[name] = visual or collision
    UsdGeom.Scope.Define(stage, f"{prim_path}/joints")
    for joint in robot.joints:
        path = f"{prim_path}/joints/{_prim_name(joint.name)}"
        token, turn = _axis_turn(joint.axis) if joint.type != "fixed" else ("X", np.eye(3))
        if joint.type in ("revolute", "continuous"):
            usd_joint = UsdPhysics.RevoluteJoint.Define(stage, path)
            usd_joint.CreateAxisAttr().Set(token)
            if joint.type == "revolute":
                usd_joint.CreateLowerLimitAttr().Set(float(np.degrees(joint.lower)))
                usd_joint.CreateUpperLimitAttr().Set(float(np.degrees(joint.upper)))
            drive_kind, per_unit = "angular", np.pi / 180.0  # UsdPhysics angular drives are per degree
        elif joint.type == "prismatic":
            usd_joint = UsdPhysics.PrismaticJoint.Define(stage, path)
            usd_joint.CreateAxisAttr().Set(token)
            usd_joint.CreateLowerLimitAttr().Set(float(joint.lower))
            usd_joint.CreateUpperLimitAttr().Set(float(joint.upper))
            drive_kind, per_unit = "linear", 1.0
        else:
            usd_joint = UsdPhysics.FixedJoint.Define(stage, path)
            drive_kind = None
        prim = usd_joint.GetPrim()
        prim.SetCustomDataByKey("splattwin:urdfName", joint.name)
        prim.SetCustomDataByKey("splattwin:urdfType", joint.type)
        usd_joint.CreateBody0Rel().SetTargets([Sdf.Path(link_paths[joint.parent])])
        usd_joint.CreateBody1Rel().SetTargets([Sdf.Path(link_paths[joint.child])])
        frame0 = joint.origin[:3, :3] @ turn
        usd_joint.CreateLocalPos0Attr().Set(tuple(float(v) for v in joint.origin[:3, 3]))
        usd_joint.CreateLocalRot0Attr().Set(_rot_to_quatf(frame0))
        usd_joint.CreateLocalPos1Attr().Set((0.0, 0.0, 0.0))
        usd_joint.CreateLocalRot1Attr().Set(_rot_to_quatf(turn))
        if drive_kind is not None:
            drive = UsdPhysics.DriveAPI.Apply(prim, drive_kind)
            drive.CreateTypeAttr().Set("force")
            drive.CreateStiffnessAttr().Set(float(drive_stiffness * per_unit))
            drive.CreateDampingAttr().Set(float(drive_damping * per_unit))
            if joint.effort > 0:
                drive.CreateMaxForceAttr().Set(float(joint.effort))
            drive.CreateTargetPositionAttr().Set(0.0)
            if joint.velocity > 0:
                prim.CreateAttribute("splattwin:maxVelocity", Sdf.ValueTypeNames.Double).Set(float(joint.velocity))
        if joint.mimic is not None:
            master, multiplier, offset = joint.mimic
            prim.CreateRelationship("splattwin:mimic:joint").SetTargets(
                [Sdf.Path(f"{prim_path}/joints/{_prim_name(master)}")]
            )
            prim.CreateAttribute("splattwin:mimic:multiplier", Sdf.ValueTypeNames.Double).Set(multiplier)
            prim.CreateAttribute("splattwin:mimic:offset", Sdf.ValueTypeNames.Double).Set(offset)
    return meshes


def find_robots(stage: Usd.Stage) -> list[str]:
    """Prim paths of robot roots on a stage (prims with ArticulationRootAPI written by ``import-robot``)."""
    from pxr import UsdPhysics  # noqa: PLC0415

    return [
        str(prim.GetPath())
        for prim in stage.Traverse()
        if prim.HasAPI(UsdPhysics.ArticulationRootAPI) and prim.GetCustomDataByKey(ROBOT_KEY) is not None
    ]


def _urdf_name(prim: Usd.Prim) -> str:
    return str(prim.GetCustomDataByKey("splattwin:urdfName") or prim.GetName())


def read_robot_spec(stage: Usd.Stage, prim_path: str) -> RobotSpec:
    """Read the kinematic description of a robot from the stage (joint frames, axes, limits, mimic).

    Raises:
        StageError: the prim is not a robot written by ``import-robot``, or its joints do not form a tree.
    """
    from pxr import Usd, UsdGeom, UsdPhysics  # noqa: PLC0415

    where = stage.GetRootLayer().identifier
    root = stage.GetPrimAtPath(prim_path)
    if not root or root.GetCustomDataByKey(ROBOT_KEY) is None:
        raise StageError(where, f"{prim_path} is not a robot (no prim with {ROBOT_KEY!r} customData)")
    links = {
        str(child.GetPath()): _urdf_name(child) for child in root.GetChildren() if child.HasAPI(UsdPhysics.RigidBodyAPI)
    }
    joints = []
    joints_scope = stage.GetPrimAtPath(f"{prim_path}/joints")
    for prim in joints_scope.GetChildren() if joints_scope else []:
        joint = UsdPhysics.Joint(prim)
        body0, body1 = joint.GetBody0Rel().GetTargets(), joint.GetBody1Rel().GetTargets()
        if len(body0) != 1 or len(body1) != 1 or str(body0[0]) not in links or str(body1[0]) not in links:
            raise StageError(where, f"joint {prim.GetPath()} does not connect two links of {prim_path}")
        kind = "fixed"
        axis = "X"
        lower, upper = -np.inf, np.inf
        if prim.IsA(UsdPhysics.RevoluteJoint) or prim.IsA(UsdPhysics.PrismaticJoint):
            typed = (
                UsdPhysics.RevoluteJoint(prim)
                if prim.IsA(UsdPhysics.RevoluteJoint)
                else UsdPhysics.PrismaticJoint(prim)
            )
            axis = str(typed.GetAxisAttr().Get())
            lo, hi = typed.GetLowerLimitAttr().Get(), typed.GetUpperLimitAttr().Get()
            to_si = np.radians if prim.IsA(UsdPhysics.RevoluteJoint) else float
            if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
                lower, upper = float(to_si(lo)), float(to_si(hi))
            kind = (
                "prismatic"
                if prim.IsA(UsdPhysics.PrismaticJoint)
                else ("revolute" if np.isfinite(lower) else "continuous")
            )
        mimic = None
        target = prim.GetRelationship("splattwin:mimic:joint")
        if target and target.GetTargets():
            master = stage.GetPrimAtPath(target.GetTargets()[0])
            mimic = (
                _urdf_name(master),
                float(prim.GetAttribute("splattwin:mimic:multiplier").Get()),
                float(prim.GetAttribute("splattwin:mimic:offset").Get()),
            )
        drive = UsdPhysics.DriveAPI.Get(prim, "angular" if kind in ("revolute", "continuous") else "linear")
        effort = drive.GetMaxForceAttr().Get() if drive and drive.GetMaxForceAttr() else None
        joints.append(
            JointSpec(
                name=_urdf_name(prim),
                type=kind,
                parent=links[str(body0[0])],
                child=links[str(body1[0])],
                local0=_frame(joint.GetLocalPos0Attr().Get(), joint.GetLocalRot0Attr().Get()),
                local1=_frame(joint.GetLocalPos1Attr().Get(), joint.GetLocalRot1Attr().Get()),
                axis=axis,
                lower=lower,
                upper=upper,
                mimic=mimic,
                effort=float(effort or 0.0),
            )
        )
    children = {j.child for j in joints}
    roots = [p for p, n in links.items() if n not in children]
    if len(roots) != 1:
        raise StageError(where, f"robot {prim_path} links do not form one tree (roots: {roots})")
    by_parent: dict[str, list[JointSpec]] = {}
    for joint in joints:
        by_parent.setdefault(joint.parent, []).append(joint)
    name_to_path = {n: p for p, n in links.items()}
    order, stack = [], [links[roots[0]]]
    while stack:
        name = stack.pop()
        order.append(name)
        stack.extend(j.child for j in reversed(by_parent.get(name, [])))
    time = Usd.TimeCode.Default()
    root_local = np.array(UsdGeom.Xformable(stage.GetPrimAtPath(roots[0])).GetLocalTransformation(time)).T
    base_world = world_matrix(root)
    return RobotSpec(
        prim=prim_path,
        link_names=order,
        link_paths=[name_to_path[n] for n in order],
        root_link=links[roots[0]],
        root_local=root_local,
        base_world=base_world,
        joints=joints,
    )


def link_meshes(stage: Usd.Stage, link_path: str) -> LinkMesh | None:
    """The link's visual surface (collision meshes when it has no visual) in the link frame, or None.

    Triangles are concatenated in child order of ``visuals/`` (then ``collisions/``); the binding's triangle ids
    index this concatenation.
    """
    from pxr import UsdGeom  # noqa: PLC0415

    for kind in ("visuals", "collisions"):
        scope = stage.GetPrimAtPath(f"{link_path}/{kind}")
        if not scope:
            continue
        vertices, faces, colors, offset = [], [], [], 0
        for prim in scope.GetChildren():
            mesh = UsdGeom.Mesh(prim)
            if not mesh:
                continue
            points = np.array(mesh.GetPointsAttr().Get(), np.float64)
            tris = np.array(mesh.GetFaceVertexIndicesAttr().Get(), np.int64).reshape(-1, 3)
            color = mesh.GetDisplayColorPrimvar().Get() if mesh.GetDisplayColorPrimvar() else None
            rgb = np.array(color, np.float32) if color is not None and len(color) else np.array([_DEFAULT_GREY])
            vertices.append(points)
            faces.append(tris + offset)
            colors.append(rgb if len(rgb) == len(tris) else np.broadcast_to(rgb[:1], (len(tris), 3)))
            offset += len(points)
        if faces:
            return LinkMesh(np.concatenate(vertices), np.concatenate(faces), np.concatenate(colors).astype(np.float32))
    return None


def describe_robots(stage: Usd.Stage) -> list[dict[str, Any]]:
    """JSON-friendly description of every robot on a stage: links (with bound Gaussians), joints with limits.

    Limits are in SI units (rad for revolute joints, m for prismatic ones); ``None`` for continuous joints.
    """
    robots = []
    for path in find_robots(stage):
        problems = articulation_problems(stage, path)
        if problems:  # a broken robot (a link or joint removed by hand): say what is wrong, prim by prim
            robots.append(_describe_broken_robot(stage, path, problems))
            continue
        try:
            spec = read_robot_spec(stage, path)
        except StageError as exc:  # anything articulation_problems does not name: still describe the rest
            robots.append(_describe_broken_robot(stage, path, [{"prim": path, "problem": exc.problem}]))
            continue
        links = []
        for name, link_path in zip(spec.link_names, spec.link_paths, strict=True):
            field = stage.GetPrimAtPath(f"{link_path}/Gaussians")
            positions = field.GetAttribute("positions").Get() if field else None
            links.append({"name": name, "prim": link_path, "gaussians": len(positions) if positions else 0})
        joints = [
            {
                "name": j.name,
                "type": j.type,
                "parent": j.parent,
                "child": j.child,
                "lower": float(j.lower) if np.isfinite(j.lower) else None,
                "upper": float(j.upper) if np.isfinite(j.upper) else None,
                "mimic": j.mimic[0] if j.mimic else None,
            }
            for j in spec.joints
        ]
        info = stage.GetPrimAtPath(path).GetCustomDataByKey(ROBOT_KEY) or {}
        robots.append(
            {
                "prim": path,
                "name": info.get("name", ""),
                "urdf": info.get("urdf", ""),
                "base_position": spec.base_world[:3, 3].tolist(),
                "links": links,
                "joints": joints,
                "bound_gaussians": sum(link["gaussians"] for link in links),
                "problems": [],
            }
        )
    return robots


def _link_gaussians(stage: Usd.Stage, link_path: str) -> int:
    field = stage.GetPrimAtPath(f"{link_path}/Gaussians")
    positions = field.GetAttribute("positions").Get() if field else None
    return len(positions) if positions else 0


def _describe_broken_robot(stage: Usd.Stage, path: str, problems: list[dict[str, str]]) -> dict[str, Any]:
    """What :func:`describe_robots` can say of a robot whose joints do not form a tree: links, joints as found."""
    graph = articulation_graph(stage, path)
    links = [
        {"name": name, "prim": link, "gaussians": _link_gaussians(stage, link)} for link, name in graph.links.items()
    ]
    joints = [
        {
            "name": joint.rsplit("/", 1)[-1],
            "type": stage.GetPrimAtPath(joint).GetTypeName(),
            "parent": graph.links.get(body0 or "", body0 or "-"),
            "child": graph.links.get(body1 or "", body1 or "-"),
            "lower": None,
            "upper": None,
            "mimic": graph.mimic_master.get(joint),
        }
        for joint, (body0, body1) in graph.joints.items()
    ]
    root = stage.GetPrimAtPath(path)
    info = root.GetCustomDataByKey(ROBOT_KEY) or {}
    return {
        "prim": path,
        "name": info.get("name", ""),
        "urdf": info.get("urdf", ""),
        "base_position": world_matrix(root)[:3, 3].tolist(),
        "links": links,
        "joints": joints,
        "bound_gaussians": sum(link["gaussians"] for link in links),
        "problems": problems,
    }


@dataclass
class ArticulationGraph:
    """A robot's links and joints as the stage has them, read without requiring that they form a tree.

    Attributes:
        prim: the robot's root prim.
        links: link prim path -> URDF link name (the robot prim's rigid-body children).
        joints: joint prim path -> (body0 target, body1 target), each None when the relationship has no single
            target; a target may name a prim that is not (or no longer) a link.
        mimic_master: joint prim path -> the joint prim path it mimics (``splattwin:mimic:joint``).
    """

    prim: str
    links: dict[str, str]
    joints: dict[str, tuple[str | None, str | None]]
    mimic_master: dict[str, str]

    def root_links(self) -> list[str]:
        """Links that no joint has as its child (one for a sound robot)."""
        children = {body1 for _, body1 in self.joints.values()}
        return [link for link in self.links if link not in children]


def articulation_graph(stage: Usd.Stage, prim_path: str) -> ArticulationGraph:
    """Read a robot's links and joints (see :class:`ArticulationGraph`); nothing is validated."""
    from pxr import UsdPhysics  # noqa: PLC0415

    root = stage.GetPrimAtPath(prim_path)
    links = {
        str(child.GetPath()): _urdf_name(child)
        for child in (root.GetChildren() if root else [])
        if child.HasAPI(UsdPhysics.RigidBodyAPI)
    }
    joints: dict[str, tuple[str | None, str | None]] = {}
    mimic_master: dict[str, str] = {}
    scope = stage.GetPrimAtPath(f"{prim_path}/joints")
    for prim in scope.GetChildren() if scope else []:
        joint = UsdPhysics.Joint(prim)
        if not joint:
            continue
        ends = []
        for rel in (joint.GetBody0Rel(), joint.GetBody1Rel()):
            targets = rel.GetTargets() if rel else []
            ends.append(str(targets[0]) if len(targets) == 1 else None)
        joints[str(prim.GetPath())] = (ends[0], ends[1])
        target = prim.GetRelationship("splattwin:mimic:joint")
        if target and target.GetTargets():
            mimic_master[str(prim.GetPath())] = str(target.GetTargets()[0])
    return ArticulationGraph(prim=prim_path, links=links, joints=joints, mimic_master=mimic_master)


def articulation_problems(stage: Usd.Stage, prim_path: str) -> list[dict[str, str]]:
    """What keeps a robot from being read (:func:`read_robot_spec`), one ``{"prim", "problem"}`` per finding.

    Empty for a sound robot: every joint connects two of its links, every mimic joint names an existing joint,
    and the links form one tree.
    """
    graph = articulation_graph(stage, prim_path)
    problems = []
    for joint, ends in graph.joints.items():
        for which, end in zip(("body0", "body1"), ends, strict=True):
            if end is None:
                problems.append({"prim": joint, "problem": f"{which} does not name exactly one link"})
            elif end not in graph.links:
                what = "no prim" if not stage.GetPrimAtPath(end) else "not a link of the robot"
                problems.append({"prim": joint, "problem": f"{which} targets {end}, {what}"})
    for joint, master in graph.mimic_master.items():
        if master not in graph.joints:
            problems.append({"prim": joint, "problem": f"mimics {master}, which is not a joint of the robot"})
    if not problems:
        roots = graph.root_links()
        if len(roots) != 1:
            for link in roots[1:] if roots else []:
                problems.append({"prim": link, "problem": "no joint connects it to the rest of the robot"})
            if not roots:
                problems.append({"prim": prim_path, "problem": "its joints form a loop (no root link)"})
    return problems


def print_robots(robots: list[dict[str, Any]], *, console: Any) -> None:
    """Rich tables of :func:`describe_robots`: one of links, one of joints per robot."""
    from rich.table import Table  # noqa: PLC0415

    for robot in robots:
        links = Table(title=f"robot {robot['prim']} ({robot['name']}): links, {robot['bound_gaussians']:,} Gaussians")
        for column in ("link", "prim", "bound Gaussians"):
            links.add_column(column)
        for link in robot["links"]:
            links.add_row(link["name"], link["prim"], f"{link['gaussians']:,}")
        joints = Table(title=f"robot {robot['prim']}: joints (limits in rad or m)")
        for column in ("joint", "type", "parent -> child", "lower", "upper", "mimics"):
            joints.add_column(column)
        for joint in robot["joints"]:
            joints.add_row(
                joint["name"],
                joint["type"],
                f"{joint['parent']} -> {joint['child']}",
                "-" if joint["lower"] is None else f"{joint['lower']:.4g}",
                "-" if joint["upper"] is None else f"{joint['upper']:.4g}",
                joint["mimic"] or "-",
            )
        console.print(links)
        console.print(joints)
        if robot.get("problems"):
            broken = Table(title=f"robot {robot['prim']}: BROKEN, {len(robot['problems'])} problem(s)")
            for column in ("prim", "problem"):
                broken.add_column(column)
            for problem in robot["problems"]:
                broken.add_row(problem["prim"], problem["problem"])
            console.print(broken)
