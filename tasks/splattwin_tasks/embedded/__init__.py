"""The embedded runtime: the tasks on MuJoCo (C, CPU), without Isaac Sim."""

from splattwin_tasks.embedded.env import EmbeddedManipulationEnv
from splattwin_tasks.embedded.mjcf import build_mjcf, world_origins

__all__ = ["EmbeddedManipulationEnv", "build_mjcf", "world_origins"]
