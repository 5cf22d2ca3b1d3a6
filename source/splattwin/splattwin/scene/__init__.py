"""Scene assembly: what the renderer draws, read from a twin stage (cameras, Gaussians, meshes, posed links).

The room above :mod:`splattwin.usd` (the stage), :mod:`splattwin.robot` (kinematics posing the links) and
:mod:`splattwin.render` (which takes Gaussians and cameras and never reads a stage): the render pipeline, the
demo and the viewport overlay gather their scene here. Everything lives in :mod:`splattwin.scene.gather`.
"""

from splattwin.scene.gather import (
    camera_from_prim,
    gather_gaussians,
    gather_meshes,
    keyed_pose_overrides,
    robot_link_overrides,
    stage_path,
)

__all__ = [
    "camera_from_prim",
    "gather_gaussians",
    "gather_meshes",
    "keyed_pose_overrides",
    "robot_link_overrides",
    "stage_path",
]
