"""``splattwin remove``: take a prim (and everything below it) out of a twin, from whichever layers hold it.

What goes with a prim (docs/guarantees.md, "What remove takes with it"):

- everything below it, in every twin layer: a rigid body's claimed Gaussians (``<body>/Gaussians``) go with the
  body, they are not given back to the scene splat (the object is out of the twin; its Gaussians are not drawn
  on the table any more);
- a link or a joint of a robot (or the robot's ``joints`` scope) is refused: the joints next to it would connect
  nothing and every verb reading the robot would fail. With ``--force`` the removal is made consistent: every
  joint touching a removed link, every link downstream of a removed joint (its child subtree, mimic joints of a
  removed master included), and the removed joints' keyed values on the robot prim go too; removing the root
  link removes the whole robot. What is left is a shorter, sound robot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from splattwin.errors import InputError
from splattwin.usd.prims import check_prim_path_syntax, remove_prim_specs
from splattwin.usd.stage import PHYSICS_SCENE_PATH, edit_twin

if TYPE_CHECKING:
    from splattwin.robot.usd_robot import ArticulationGraph
    from splattwin.usd.stage import TwinStage

__all__ = ["RemoveConfig", "RemoveResult", "remove_prim"]


@dataclass(kw_only=True)
class RemoveConfig:
    """Attributes:
    stage: the twin's root layer.
    prim: the prim to remove, below /World.
    force: also remove a person's edits of it in the root layer, and allow removing part of a robot (with what
        depends on it); both refused without.
    """

    stage: Path
    prim: str
    force: bool = False

    def validate(self) -> None:
        """Check the options that need no file access."""
        check_prim_path_syntax(self.prim)
        if self.prim == PHYSICS_SCENE_PATH:
            raise InputError("--prim", f"{self.prim} is the twin's physics scene; a twin needs it")


@dataclass
class RemoveResult:
    """What a removal did.

    Attributes:
        layers: the twin layers edited.
        removed: the prims removed: the one asked for, then what depended on it (links, joints of a robot).
        notes: what else changed (keyed joint values dropped, Gaussians that went with a body).
    """

    layers: list[str]
    removed: list[str]
    notes: list[str] = field(default_factory=list)


def _is_at_or_below(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _robot_part(twin: TwinStage, prim_path: str) -> tuple[str, set[str], set[str]] | None:
    """(robot, links hit, joints hit) when ``prim_path`` is a link or joint (or holds joints) of a robot."""
    from splattwin.robot.usd_robot import articulation_graph, find_robots  # noqa: PLC0415

    for robot in find_robots(twin.stage):
        if not _is_at_or_below(prim_path, robot) or prim_path == robot:
            continue
        graph = articulation_graph(twin.stage, robot)
        links = {link for link in graph.links if _is_at_or_below(link, prim_path)}
        joints = {joint for joint in graph.joints if _is_at_or_below(joint, prim_path)}
        if links or joints:
            return robot, links, joints
    return None


def _dependents(graph: ArticulationGraph, links: set[str], joints: set[str]) -> tuple[set[str], set[str]]:
    """Close (links, joints) over what depends on them: joints touching a removed link, the child link of a
    removed joint (so its subtree), mimic joints of a removed master."""
    links, joints = set(links), set(joints)
    changed = True
    while changed:
        changed = False
        for joint, (body0, body1) in graph.joints.items():
            master = graph.mimic_master.get(joint)
            if joint not in joints and (body0 in links or body1 in links or master in joints):
                joints.add(joint)
                changed = True
            if joint in joints and body1 in graph.links and body1 not in links:
                links.add(body1)
                changed = True
    return links, joints


def _remove_robot_part(
    twin: TwinStage, config: RemoveConfig, robot: str, links: set[str], joints: set[str]
) -> RemoveResult:
    from splattwin.robot.trajectories import JOINT_ATTRIBUTE_PREFIX  # noqa: PLC0415
    from splattwin.robot.usd_robot import articulation_graph  # noqa: PLC0415

    graph = articulation_graph(twin.stage, robot)
    links, joints = _dependents(graph, links, joints)
    names = ", ".join(sorted(graph.links[link] for link in links)) or "none"
    joint_names = ", ".join(sorted(joint.rsplit("/", 1)[-1] for joint in joints)) or "none"
    if not config.force:
        raise InputError(
            "--prim",
            f"{config.prim} is part of the robot {robot}: removing it alone leaves joints that connect nothing, "
            f"and inspect, render and trajectory then fail; give --force to remove it with what depends on it "
            f"(links: {names}; joints: {joint_names}), or remove the whole robot with --prim {robot}",
        )
    if set(graph.root_links()) & links:
        layers = remove_prim_specs(twin, robot, force=True)
        return RemoveResult(
            layers=layers,
            removed=[config.prim, robot],
            notes=[f"{config.prim} holds the root link of {robot}: the whole robot was removed"],
        )
    layers: set[str] = set()
    removed = [config.prim]
    for path in sorted(joints | links):
        if twin.stage.GetPrimAtPath(path) and not _is_at_or_below(path, config.prim):
            removed.append(path)
    for path in [config.prim, *removed[1:]]:
        if twin.stage.GetPrimAtPath(path):
            layers.update(remove_prim_specs(twin, path, force=True))
    # The removed joints' keyed values (robot/trajectories.py: one attribute per joint on the robot prim).
    dropped = []
    for joint in sorted(joints):
        attribute = f"{robot}.{JOINT_ATTRIBUTE_PREFIX}{joint.rsplit('/', 1)[-1]}"
        for name, layer in [*twin.layers.items(), ("root", twin.root_layer)]:
            spec = layer.GetPropertyAtPath(attribute)
            if spec:
                layer.GetPrimAtPath(robot).RemoveProperty(spec)
                layers.add(name)
                dropped.append(joint.rsplit("/", 1)[-1])
    notes = [
        f"removed with it, as they depend on it: links {names}; joints {joint_names}",
        f"{robot} is now a robot of {len(graph.links) - len(links)} links and {len(graph.joints) - len(joints)} "
        "joints (tasks built for the full robot will refuse it)",
    ]
    if dropped:
        notes.append(f"dropped the keyed values of joints {', '.join(sorted(set(dropped)))} from {robot}")
    return RemoveResult(layers=sorted(layers), removed=removed, notes=notes)


def remove_prim(config: RemoveConfig) -> RemoveResult:
    """Remove ``config.prim`` from every twin layer holding it (saved atomically), with what depends on it."""
    from splattwin.usd.splats import claimed_below  # noqa: PLC0415

    config.validate()
    with edit_twin(config.stage, create=False) as twin:
        part = _robot_part(twin, config.prim) if twin.stage.GetPrimAtPath(config.prim) else None
        if part is not None:
            return _remove_robot_part(twin, config, *part)
        notes = [
            f"{claimed} went with it (they are no longer drawn; re-import the scene splat to have them back)"
            for claimed in claimed_below(twin.stage, config.prim)
        ]
        layers = remove_prim_specs(twin, config.prim, force=config.force)
        return RemoveResult(layers=layers, removed=[config.prim], notes=notes)
