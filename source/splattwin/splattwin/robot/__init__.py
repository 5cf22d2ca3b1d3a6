"""Robots in the twin: URDF import, differentiable kinematics, Gaussian-bound links, registration to the scan.

``from splattwin.robot import load_robot, find_robots``. torch, pxr and trimesh are imported inside the functions
that use them, so importing this package is cheap.

Modules: :mod:`~splattwin.robot.urdf` (URDF parse and checks), :mod:`~splattwin.robot.usd_robot` (the robot on
the stage), :mod:`~splattwin.robot.kinematics` (torch FK), :mod:`~splattwin.robot.mdh` (Modified
Denavit-Hartenberg chains), :mod:`~splattwin.robot.binding` (Gaussians to link surfaces),
:mod:`~splattwin.robot.posing` (Gaussians at q), :mod:`~splattwin.robot.registration` (base pose by ICP),
:mod:`~splattwin.robot.frames` (``align --robot``), :mod:`~splattwin.robot.synthetic` (a robot splat from its
meshes), :mod:`~splattwin.robot.trajectories` (joint trajectories, and the object poses of a rollout, as time
samples in the twin). See docs/robot.md.
"""

from splattwin.robot.kinematics import Robot, load_robot
from splattwin.robot.usd_robot import find_robots

__all__ = ["Robot", "find_robots", "load_robot"]
