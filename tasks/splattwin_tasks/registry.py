"""Task lookup and construction: ``make(task_id, num_envs=N, runtime="embedded", twin=PATH)``."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from splattwin.errors import InputError

__all__ = [
    "DEFAULT_TWIN",
    "ISAACLAB_FIX",
    "RUNTIMES",
    "check_isaaclab",
    "load_entry_point",
    "make",
    "make_isaaclab_env_cfg",
    "make_task_cfg",
    "task_ids",
]

RUNTIMES = ("embedded", "isaaclab")
DEFAULT_TWIN = Path("out/demo/twin.usda")
"""The demo twin, as ``splattwin demo --out out/demo`` writes it (relative to the working directory)."""


def task_ids() -> list[str]:
    """The registered SplatTwin task ids."""
    import gymnasium as gym  # noqa: PLC0415

    return sorted(name for name in gym.registry if name.startswith("SplatTwin-"))


def load_entry_point(task_id: str, key: str) -> Any:
    """The object named by the gym spec's ``kwargs[key]`` string (``module:attr``); InputError for an unknown id."""
    import gymnasium as gym  # noqa: PLC0415

    if task_id not in gym.registry:
        raise InputError("task", f"unknown task id {task_id!r}; registered: {', '.join(task_ids())}")
    target = gym.registry[task_id].kwargs.get(key)
    if target is None:
        raise InputError("task", f"{task_id} has no {key}")
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


def _apply_overrides(cfg: Any, overrides: dict[str, Any]) -> None:
    for key, value in overrides.items():
        if not hasattr(cfg, key):
            raise InputError(key, f"is not a setting of {type(cfg).__name__}")
        current = getattr(cfg, key)
        if isinstance(current, bool) and not isinstance(value, bool):
            raise InputError(key, f"expected true/false, got {value!r}")
        if isinstance(current, int | float) and not isinstance(current, bool):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(key, f"expected a number, got {value!r}")
            value = type(current)(value) if isinstance(current, float) or float(value).is_integer() else value
        if isinstance(current, str) and not isinstance(value, str):
            raise InputError(key, f"expected a string, got {value!r}")
        setattr(cfg, key, value)


def make_task_cfg(task_id: str, **overrides: Any) -> Any:
    """The embedded task cfg of ``task_id`` with ``overrides`` applied (type-checked) and validated."""
    cfg = load_entry_point(task_id, "embedded_cfg_entry_point")()
    _apply_overrides(cfg, overrides)
    cfg.validate()
    return cfg


def make(
    task_id: str,
    *,
    num_envs: int = 1,
    runtime: str = "embedded",
    twin: str | Path | None = None,
    device: str = "cpu",
    **overrides: Any,
) -> Any:
    """Build a batched env of ``task_id`` with Isaac Lab's interface.

    Args:
        task_id: a registered id, e.g. ``SplatTwin-Push-Franka-v0``.
        num_envs: number of parallel envs, >= 1.
        runtime: ``embedded`` (MuJoCo on the CPU, no Isaac Sim) or ``isaaclab`` (Isaac Lab 3.0 kitless on Newton:
            ``.venv-isaaclab``, made by ``make isaaclab``; returns the ``gym.make`` env, whose ``unwrapped`` is
            Isaac Lab's ``ManagerBasedRLEnv``).
        twin: the twin's root layer; None: the task cfg's, else :data:`DEFAULT_TWIN`.
        device: torch device of the returned tensors.
        overrides: task cfg fields (e.g. ``mass_distribution="fixed", fixed_mass_kg=0.3``).

    Returns:
        The env: ``reset() -> (obs, extras)`` with ``obs["policy"]`` [N, obs_dim]; ``step(actions [N, A]) ->
        (obs, reward [N], terminated [N], truncated [N], extras)``; ``action_space``, ``observation_space``,
        ``num_envs``, ``close()``.
    """
    if runtime not in RUNTIMES:
        raise InputError("runtime", f"must be one of {RUNTIMES}, got {runtime!r}")
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise InputError("num_envs", f"must be an integer >= 1, got {num_envs!r}")
    cfg = make_task_cfg(task_id, **overrides)
    twin_path = Path(twin) if twin else Path(cfg.twin) if cfg.twin else DEFAULT_TWIN
    if runtime == "isaaclab":
        cfg.twin = str(twin_path)
        return _make_isaaclab(task_id, cfg, num_envs=num_envs, device=device)
    from splattwin_tasks.embedded import EmbeddedManipulationEnv  # noqa: PLC0415
    from splattwin_tasks.twin_scene import read_twin_scene  # noqa: PLC0415

    if not twin_path.exists() and not twin:
        raise InputError(twin_path, "no twin given and no demo twin here: run `splattwin demo --out out/demo` first")
    scene = read_twin_scene(twin_path, object_prim=cfg.object_prim, require_robot=cfg.require_robot)
    cfg.twin = str(twin_path)
    return EmbeddedManipulationEnv(cfg, scene, num_envs=num_envs, device=device)


ISAACLAB_FIX = (
    "run `make isaaclab`, then the same command with .venv-isaaclab/bin/splattwin (or .venv-isaaclab/bin/python)"
)


def check_isaaclab() -> None:
    """InputError (one line naming the fix) unless Isaac Lab 3.x is importable here."""
    import importlib.metadata  # noqa: PLC0415

    from splattwin_tasks._compat import isaaclab_available  # noqa: PLC0415

    if not isaaclab_available():
        raise InputError("runtime", f"isaaclab needs Isaac Lab 3.0, which is not installed here: {ISAACLAB_FIX}")
    try:
        version = importlib.metadata.version("isaaclab")
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    if int(version.split(".")[0]) < 3:
        raise InputError("runtime", f"isaaclab needs Isaac Lab 3.0, found {version}: {ISAACLAB_FIX}")


def make_isaaclab_env_cfg(task_id: str, cfg: Any, *, num_envs: int, device: str = "cpu") -> Any:
    """Isaac Lab's env cfg of ``task_id`` holding the task cfg ``cfg`` (overrides applied), built from its twin."""
    check_isaaclab()
    from splattwin_tasks.manipulation.isaaclab_env import prepare_isaaclab_env_cfg  # noqa: PLC0415

    env_cfg = load_entry_point(task_id, "env_cfg_entry_point")()
    env_cfg.task = cfg
    env_cfg.scene.num_envs = num_envs
    env_cfg.sim.device = device
    env_cfg.seed = int(cfg.seed)
    return prepare_isaaclab_env_cfg(env_cfg)


def _make_isaaclab(task_id: str, cfg: Any, *, num_envs: int, device: str) -> Any:
    env_cfg = make_isaaclab_env_cfg(task_id, cfg, num_envs=num_envs, device=device)
    import gymnasium as gym  # noqa: PLC0415
    from isaaclab.app import launch_simulation  # noqa: PLC0415, TID251

    # Kitless (Newton): launch_simulation starts nothing and its exit closes nothing, so the env outlives it; with a
    # Kit physics (PhysX) the caller must own the app (tasks/scripts/train.py starts AppLauncher).
    with launch_simulation(env_cfg, {}):
        return gym.make(task_id, cfg=env_cfg)
