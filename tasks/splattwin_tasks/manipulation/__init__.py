"""Manipulation tasks on a twin's tabletop: Push and Lift with a Franka Panda, each with a ``-NoMass`` variant."""

from splattwin_tasks.manipulation import lift, push  # noqa: F401  (registers the gym ids)

__all__: list[str] = []
