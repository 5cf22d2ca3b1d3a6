"""Isaac Lab's manager-based RL env with the tasks' start events: the gym specs' ``entry_point``.

Imported only under Isaac Lab. Isaac Lab resets the command manager after the reset events, so an event that reads
the goal (Push's pre-push start, behind the object on the side away from the target) cannot be a ``reset`` event.
:class:`TaskRLEnv` runs the event terms of mode ``"start"`` (the task description's ``start_events``) after
``ManagerBasedRLEnv._reset_idx``, as the embedded runtime runs them after its commands, then brings the kinematics
and the sensors up to date, so the first observation of an episode (the frame transformer's hand included) is that
of the written start state, not of the pose before the reset or a zero.

It also seeds gymnasium's ``np_random`` (which the start events draw from) with the env's seed: Isaac Lab's
``seed()`` seeds torch, numpy's global state, ``random`` and Warp, not the gym env's own generator, which gymnasium
then seeds from the OS on first use, so two runs of the same seed started from different poses (PPO on Newton did
not repeat run to run).
"""

from __future__ import annotations

from typing import Any

from gymnasium.utils import seeding
from isaaclab.envs import ManagerBasedRLEnv  # noqa: TID251

from splattwin_tasks.manipulation.isaaclab_env import START_EVENT_MODE

__all__ = ["TaskRLEnv"]


class TaskRLEnv(ManagerBasedRLEnv):
    """``ManagerBasedRLEnv`` that runs the ``"start"`` events after a reset and refreshes the scene's data, with
    gymnasium's ``np_random`` seeded by the env's seed."""

    def seed(self, seed: int = -1) -> int:  # type: ignore[override]  (an instance method: it seeds this env too)
        """Isaac Lab's seeding (torch, numpy, random, Warp; called with ``cfg.seed`` at construction and by
        ``reset(seed=...)``), then this env's ``np_random`` from the same seed."""
        used = ManagerBasedRLEnv.seed(seed)
        self._np_random, self._np_random_seed = seeding.np_random(used)
        return used

    def _reset_idx(self, env_ids: Any) -> None:
        super()._reset_idx(env_ids)
        if START_EVENT_MODE in self.event_manager.available_modes:
            self.event_manager.apply(mode=START_EVENT_MODE, env_ids=env_ids)
        # The start write moved the robot without a physics step: forward kinematics, then the assets' and sensors'
        # buffers (Isaac Lab's frame transformer otherwise reads its reset value, zero, until the next step).
        self.scene.write_data_to_sim()
        self.sim.forward()
        _refresh_newton_frame_sensors()
        for sensor in self.scene.sensors.values():
            sensor.update(0.0, force_recompute=True)


def _refresh_newton_frame_sensors() -> None:
    """Newton evaluates its frame-transform sensors (what Isaac Lab's ``FrameTransformer`` copies) only after a physics
    step; after a reset write they would hold the old poses (zeros before the first step). Re-evaluate them on the
    current state. A no-op under PhysX."""
    try:
        from isaaclab_newton.physics import NewtonManager  # noqa: PLC0415, TID251
    except ImportError:
        return
    backend = getattr(NewtonManager, "backend", None)
    if backend is None:
        return
    for sensor in getattr(NewtonManager, "_newton_frame_transform_sensors", ()):
        sensor.update(backend.state_0)
