"""Train and play with rsl-rl-lib PPO: progress bar, TensorBoard logs, atomic checkpoints, resume, USD recording.

``train(TrainConfig(...))`` runs ``rsl_rl.runners.OnPolicyRunner`` on a task (embedded runtime here; the Isaac Lab
runtime goes through ``tasks/scripts/train.py``, which must start Isaac Sim's ``AppLauncher`` first). Checkpoints
``model_<it>.pt`` are written to a temporary file and renamed, so a run killed mid-write leaves the previous one
intact, and ``resume=True`` continues from the newest. ``play`` rolls a checkpoint out, reports success, and can
record env 0 as USD time samples in the twin's ``trajectories`` layer.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from splattwin.errors import InputError, Interrupted, StageError
from splattwin.io import write_json
from splattwin.overrides import parse_overrides

__all__ = [
    "PlayConfig",
    "TrainConfig",
    "TrainResult",
    "check_device",
    "latest_checkpoint",
    "parse_overrides",
    "play",
    "train",
]

logger = logging.getLogger(__name__)


@dataclass(kw_only=True)
class TrainConfig:
    """One training run; ``splattwin train key=value ...`` overrides these fields.

    Attributes:
        task: registered task id.
        runtime: ``embedded`` (MuJoCo, CPU) or ``isaaclab`` (use ``tasks/scripts/train.py`` there).
        num_envs: parallel envs, >= 1.
        max_iterations: PPO iterations in total (a resumed run stops at the same total); 0: the agent cfg's.
        seed: seed of env and policy.
        twin: the twin's root layer; empty: the demo twin ``out/demo/twin.usda``.
        log_dir: run folder (TensorBoard events, checkpoints, resolved config); empty:
            ``logs/rsl_rl/<experiment_name>/<task>_seed<seed>``.
        resume: continue from the newest checkpoint in ``log_dir``.
        device: torch device of the policy and the env's tensors.
        env: task cfg overrides (e.g. ``mass_distribution: fixed``).
        agent: runner cfg overrides, dotted keys into its dict (e.g. ``algorithm.learning_rate: 3e-4``).
        progress: show a progress bar.
    """

    task: str = "SplatTwin-Push-Franka-v0"
    runtime: str = "embedded"
    num_envs: int = 64
    max_iterations: int = 0
    seed: int = 42
    twin: str = ""
    log_dir: str = ""
    resume: bool = False
    device: str = "cpu"
    env: dict[str, Any] = field(default_factory=dict)
    agent: dict[str, Any] = field(default_factory=dict)
    progress: bool = True

    def validate(self) -> None:
        """Check what needs no file access."""
        if self.num_envs < 1:
            raise InputError("num_envs", f"must be >= 1, got {self.num_envs}")
        if self.max_iterations < 0:
            raise InputError("max_iterations", f"must be >= 0, got {self.max_iterations}")
        if self.runtime not in ("embedded", "isaaclab"):
            raise InputError("runtime", f"must be embedded or isaaclab, got {self.runtime!r}")
        check_device(self.device)


@dataclass(kw_only=True)
class PlayConfig:
    """One rollout of a checkpoint; ``splattwin play key=value ...`` overrides these fields.

    Attributes:
        task: registered task id.
        checkpoint: a ``model_<it>.pt`` file, or a run folder (its newest checkpoint).
        runtime: ``embedded`` or ``isaaclab`` (Isaac Lab 3.0 kitless on Newton, in ``.venv-isaaclab``).
        num_envs: parallel envs.
        episodes: finished episodes to collect before stopping (at most ``max_steps`` policy steps).
        max_steps: policy steps at most.
        seed: env seed.
        twin: the twin; empty: the demo twin.
        record: write env 0's first episode into the twin's ``trajectories`` layer as time samples.
        device: torch device.
        env: task cfg overrides.
    """

    task: str = "SplatTwin-Push-Franka-v0"
    checkpoint: str = ""
    runtime: str = "embedded"
    num_envs: int = 16
    episodes: int = 64
    max_steps: int = 2000
    seed: int = 7
    twin: str = ""
    record: bool = False
    device: str = "cpu"
    env: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Check what needs no file access."""
        if self.num_envs < 1:
            raise InputError("num_envs", f"must be >= 1, got {self.num_envs}")
        if not self.checkpoint:
            raise InputError("checkpoint", "required: a model_<it>.pt file or a run folder")
        if self.runtime not in ("embedded", "isaaclab"):
            raise InputError("runtime", f"must be embedded or isaaclab, got {self.runtime!r}")
        if self.record and self.runtime != "embedded":
            raise InputError("record", "records the embedded runtime's rollouts only; drop record=true")
        check_device(self.device)


def check_device(device: str) -> None:
    """``device=...`` names a torch device this machine has: one line otherwise, before any work (torch itself
    stops deep in the env with ``AssertionError: Torch not compiled with CUDA enabled``)."""
    import torch  # noqa: PLC0415

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InputError("device", f"{device!r} is not a torch device; use cpu, cuda or cuda:<index>") from None
    if parsed.type != "cuda":
        return
    if not torch.cuda.is_available():
        build = "this torch is built without CUDA" if torch.version.cuda is None else "torch sees no CUDA device"
        raise InputError("device", f"{device!r} needs a CUDA GPU and {build}; use device=cpu")
    if parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise InputError("device", f"{device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")


@dataclass
class TrainResult:
    """What a run did: its folder, last checkpoint, and per-iteration mean episode return and success rate."""

    log_dir: Path
    checkpoint: Path
    iterations: list[int]
    mean_return: list[float]
    success_rate: list[float]


class _VecEnv:
    """rsl-rl-lib's ``VecEnv`` over an embedded env: TensorDict observations, done flags, success counting."""

    def __init__(self, env: Any, clip_actions: float) -> None:
        from rsl_rl.env import VecEnv  # noqa: PLC0415

        VecEnv.register(type(self))
        self.env = env
        self.num_envs = env.num_envs
        self.num_actions = env.num_actions
        self.max_episode_length = env.max_episode_length
        self.device = env.device
        self.cfg = env.cfg.to_dict() if hasattr(env.cfg, "to_dict") else {}
        self.clip_actions = clip_actions
        self.episodes = 0
        self.successes = 0

    @property
    def episode_length_buf(self) -> Any:
        return self.env.episode_length_buf

    @episode_length_buf.setter
    def episode_length_buf(self, value: Any) -> None:
        self.env.episode_length_buf = value

    def _wrap(self, obs: dict) -> Any:
        from tensordict import TensorDict  # noqa: PLC0415

        return TensorDict(obs, batch_size=[self.num_envs], device=self.device)

    def get_observations(self) -> Any:
        return self._wrap(self.env.get_observations())

    def step(self, actions: Any) -> tuple[Any, Any, Any, dict]:
        obs, reward, terminated, truncated, extras = self.env.step(actions.clamp(-self.clip_actions, self.clip_actions))
        done = terminated | truncated
        if done.any():
            success = self.env.termination_manager.get_term(self.env.terms.success_term)
            self.episodes += int(done.sum())
            self.successes += int((success & done).sum())
        return self._wrap(obs), reward, done.long(), extras


def _checkpoint_iteration(path: Path) -> int:
    """The iteration a checkpoint was saved at: its ``iter`` entry, which ``model_<it>.pt`` names."""
    match = re.fullmatch(r"model_(\d+)\.pt", path.name)
    if match:
        return int(match.group(1))
    import torch  # noqa: PLC0415

    return int(torch.load(path, map_location="cpu", weights_only=False).get("iter", 0))


def _task_cfg(env: Any, runtime: str) -> Any:
    """The task cfg an env was built from (Isaac Lab's env cfg holds it as ``task``)."""
    return env.unwrapped.cfg.task if runtime == "isaaclab" else env.cfg


def _vec_env(env: Any, runtime: str, clip_actions: float) -> Any:
    """rsl-rl-lib's ``VecEnv`` of an env: Isaac Lab's own wrapper under ``runtime=isaaclab``."""
    if runtime == "isaaclab":
        from splattwin_tasks.manipulation.isaaclab_rl import IsaacLabVecEnv  # noqa: PLC0415

        return IsaacLabVecEnv(env, clip_actions=clip_actions)
    return _VecEnv(env, clip_actions)


def latest_checkpoint(path: str | Path) -> Path | None:
    """The ``model_<it>.pt`` with the highest ``it`` in folder ``path`` (or ``path`` itself if it is a file)."""
    path = Path(path)
    if path.is_file():
        return path
    found = [(int(m.group(1)), p) for p in path.glob("model_*.pt") if (m := re.fullmatch(r"model_(\d+)\.pt", p.name))]
    return max(found)[1] if found else None


def _atomic_torch_save(obj: Any, path: str) -> None:
    import torch  # noqa: PLC0415

    from splattwin.io import atomic_output  # noqa: PLC0415

    with atomic_output(path) as tmp:
        torch.save(obj, tmp)


def _set_dotted(cfg: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = cfg
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            raise InputError(f"agent.{dotted}", "is not a setting of the runner cfg")
        node = node[key]
    if keys[-1] not in node:
        raise InputError(f"agent.{dotted}", "is not a setting of the runner cfg")
    current = node[keys[-1]]
    if isinstance(current, int | float) and not isinstance(current, bool):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"agent.{dotted}", f"expected a number, got {value!r}")
    node[keys[-1]] = value


def _flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(f"{prefix}.{key}" if prefix else str(key), item))
        return out
    return {prefix: value}


def _runner_cfg(task: str, config: TrainConfig) -> tuple[Any, dict]:
    from splattwin_tasks.registry import load_entry_point  # noqa: PLC0415

    agent = load_entry_point(task, "rsl_rl_cfg_entry_point")()
    agent.seed = config.seed
    if config.max_iterations:
        agent.max_iterations = config.max_iterations
    train_cfg = agent.train_cfg()
    for dotted, value in _flatten("", config.agent).items():
        _set_dotted(train_cfg, dotted, value)
    return agent, train_cfg


def train(config: TrainConfig, *, on_iteration: Callable[[int, float, float], None] | None = None) -> TrainResult:
    """Train ``config.task`` with rsl-rl-lib PPO in the embedded runtime.

    Args:
        config: the run.
        on_iteration: called after each iteration with (iteration, mean episode return, success rate).

    Returns:
        The run's folder, last checkpoint and learning curve.
    """
    import torch  # noqa: PLC0415
    from rsl_rl.runners import OnPolicyRunner  # noqa: PLC0415

    import splattwin_tasks  # noqa: PLC0415

    config.validate()
    if config.runtime == "isaaclab":
        from splattwin_tasks.registry import check_isaaclab  # noqa: PLC0415

        check_isaaclab()  # one line naming the fix, before anything is built
    agent, train_cfg = _runner_cfg(config.task, config)
    total = int(agent.max_iterations)
    log_dir = Path(config.log_dir or Path("logs/rsl_rl") / agent.experiment_name / f"{config.task}_seed{config.seed}")
    # Decided before the env is built and before anything is written in log_dir.
    checkpoint = latest_checkpoint(log_dir)
    if not config.resume and checkpoint is not None:
        raise InputError(
            log_dir, "holds checkpoints of an earlier run: resume=true continues it, another log_dir starts afresh"
        )
    if config.resume:
        if checkpoint is None:
            raise InputError("resume", f"no model_<it>.pt in {log_dir} to resume from")
        done = _checkpoint_iteration(checkpoint) + 1  # iterations 0 .. it are done
        if total <= done:
            asked = f"max_iterations={total}" if config.max_iterations else f"the agent cfg's {total} iterations"
            raise InputError(
                "max_iterations",
                f"{checkpoint} has {done} iterations done and {asked} is the total to reach, so nothing would "
                f"run; give max_iterations greater than {done}",
            )
    torch.manual_seed(config.seed)
    env = splattwin_tasks.make(
        config.task,
        num_envs=config.num_envs,
        runtime=config.runtime,
        twin=config.twin or None,
        device=config.device,
        seed=config.seed,
        **config.env,
    )
    log_dir.mkdir(parents=True, exist_ok=True)
    task_cfg = _task_cfg(env, config.runtime)
    resolved = {"train": asdict(config), "agent": train_cfg, "env": task_cfg.to_dict(), "twin": str(task_cfg.twin)}
    write_json(log_dir / "resolved_config.json", resolved)
    vec_env = _vec_env(env, config.runtime, float(train_cfg.get("clip_actions", 1.0)))

    class _Runner(OnPolicyRunner):
        def save(self, path: str, infos: dict | None = None) -> None:  # atomic, with what play needs
            saved = self.alg.save()
            saved["iter"] = self.current_learning_iteration
            saved["infos"] = {"task": config.task, "env": resolved["env"], **(infos or {})}
            _atomic_torch_save(saved, path)

    with contextlib.redirect_stdout(io.StringIO()):  # the runner prints a page per iteration; the bar replaces it
        runner = _Runner(vec_env, train_cfg, log_dir=str(log_dir), device=config.device)
    if config.resume:
        runner.load(str(checkpoint))
        logger.info("resuming from %s (iteration %d)", checkpoint, runner.current_learning_iteration)
    start = runner.current_learning_iteration + (1 if config.resume else 0)
    remaining = max(total - start, 0)
    curve: TrainResult = TrainResult(log_dir, log_dir, [], [], [])
    original_log = runner.logger.log

    def log(*args: Any, **kwargs: Any) -> None:
        original_log(*args, **kwargs)
        it = kwargs.get("it", args[0] if args else 0)
        buffer = runner.logger.rewbuffer
        mean_return = float(sum(buffer) / len(buffer)) if buffer else math.nan  # no episode ended yet: null in JSON
        success = vec_env.successes / vec_env.episodes if vec_env.episodes else 0.0
        vec_env.successes = vec_env.episodes = 0
        curve.iterations.append(int(it))
        curve.mean_return.append(mean_return)
        curve.success_rate.append(success)
        if on_iteration is not None:
            on_iteration(int(it), mean_return, success)

    runner.logger.log = log  # type: ignore[method-assign]
    if remaining:
        if start:
            runner.current_learning_iteration = start
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                runner.learn(num_learning_iterations=remaining)
        except KeyboardInterrupt:
            kept = latest_checkpoint(log_dir)
            if kept is None:
                raise Interrupted(f"no checkpoint was written yet; {log_dir} holds its config and logs only") from None
            raise Interrupted(f"kept the checkpoints in {log_dir} up to {kept.name}; resume=true continues") from None
    curve.checkpoint = latest_checkpoint(log_dir) or log_dir
    write_json(log_dir / "curve.json", asdict(curve))  # strict JSON: a mean return before any episode is null
    env.close()
    return curve


def play(config: PlayConfig) -> dict[str, Any]:
    """Roll a checkpoint out; returns success rate, mean episode return, episodes, the env count it ran, and the
    recorded layer if any."""
    import torch  # noqa: PLC0415
    from rsl_rl.runners import OnPolicyRunner  # noqa: PLC0415

    import splattwin_tasks  # noqa: PLC0415

    config.validate()
    if config.runtime == "isaaclab":
        from splattwin_tasks.registry import check_isaaclab  # noqa: PLC0415

        check_isaaclab()
    checkpoint = latest_checkpoint(config.checkpoint)
    if checkpoint is None or not checkpoint.is_file():
        raise InputError(config.checkpoint, "no checkpoint (model_<it>.pt) there")
    try:
        saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
        trained_obs = saved["actor_state_dict"]["mlp.0.weight"].shape[1]
    except Exception as exc:  # torch raises several types for a file that is not a checkpoint
        raise InputError(checkpoint, f"is not a readable rsl-rl-lib checkpoint ({type(exc).__name__})") from None
    trained_task = (saved.get("infos") or {}).get("task")
    if trained_task and trained_task != config.task:
        raise InputError(checkpoint, f"was trained on {trained_task}, not {config.task}")
    # The robot the policy was trained with (arm or hand: same observation size, different dynamics) unless asked.
    trained_robot = ((saved.get("infos") or {}).get("env") or {}).get("robot_model")
    env_overrides = dict(config.env)
    if trained_robot and "robot_model" not in env_overrides:
        env_overrides["robot_model"] = trained_robot
    env = splattwin_tasks.make(
        config.task,
        num_envs=config.num_envs,
        runtime=config.runtime,
        twin=config.twin or None,
        device=config.device,
        seed=config.seed,
        **env_overrides,
    )
    obs_dim = env.observation_space["policy"].shape[-1]
    if trained_obs != obs_dim:
        raise InputError(checkpoint, f"takes {trained_obs} observations but {config.task} gives {obs_dim}")
    _, train_cfg = _runner_cfg(config.task, TrainConfig(task=config.task))
    vec_env = _vec_env(env, config.runtime, float(train_cfg.get("clip_actions", 1.0)))
    with contextlib.redirect_stdout(io.StringIO()):
        runner = OnPolicyRunner(vec_env, train_cfg, log_dir=None, device=config.device)
        runner.load(str(checkpoint), load_cfg={"actor": True}, strict=True)
    policy = runner.get_inference_policy(device=config.device)
    obs = vec_env.get_observations()
    # The vec env's count: under Isaac Lab ``env`` is gymnasium's wrapper, which does not forward ``num_envs``.
    returns = torch.zeros(vec_env.num_envs)
    finished_returns: list[float] = []
    frames: list[dict[str, Any]] = []
    recording = config.record
    with torch.inference_mode():
        for _ in range(config.max_steps):
            actions = policy(obs)
            obs, reward, done, _ = vec_env.step(actions)
            if recording:
                frames.append(_frame(env))
            returns += reward.cpu()
            if done.any():
                ids = done.nonzero().squeeze(1).cpu()
                finished_returns.extend(returns[ids].tolist())
                returns[ids] = 0
                if recording and bool(done[0]):
                    recording = False
            if vec_env.episodes >= config.episodes:
                break
    result: dict[str, Any] = {
        "task": config.task,
        "runtime": config.runtime,
        "robot_model": _task_cfg(env, config.runtime).robot_model if config.runtime == "embedded" else "arm",
        "checkpoint": str(checkpoint),
        "num_envs": int(vec_env.num_envs),
        "episodes": vec_env.episodes,
        "success_rate": vec_env.successes / max(vec_env.episodes, 1),
        "mean_return": float(sum(finished_returns) / max(len(finished_returns), 1)),
    }
    if config.record and frames:
        result["recorded"] = _record(env, frames[:-1] if not recording else frames, config.task, checkpoint)
    env.close()
    return result


def _frame(env: Any) -> dict[str, Any]:
    """Env 0's state: object position [3] (robot-base frame, m) and (w, x, y, z) orientation, end-effector [3],
    the robot's joint positions (the arm's 7 and the fingers; the hand model has only the fingers)."""
    origin = env.scene.env_origins[0]
    obj, robot = env.scene["object"].data, env.scene["robot"]
    return {
        "position": (obj.root_pos_w[0] - origin).numpy().astype(float),
        "quat_wxyz": obj.root_quat_w[0].numpy().astype(float),
        "ee": (env.scene["ee_frame"].data.target_pos_w[0, 0] - origin).numpy().astype(float),
        "joints": robot.data.joint_pos[0].numpy().astype(float),
        "joint_names": list(robot.joint_names),
    }


def _record(env: Any, frames: list[dict[str, Any]], task: str, checkpoint: Path) -> str:
    """Env 0's episode as time samples in the twin's ``trajectories`` layer, at the policy rate: the object's pose
    on its own prim, the end-effector's path on ``/World/Trajectories/<task>/ee`` and, with ``robot_model=arm``,
    the Panda's joints on the twin's robot (``splattwin:joint:<name>``, as ``splattwin trajectory`` writes them;
    skipped with a warning when the twin's robot lacks those joints)."""
    import numpy as np  # noqa: PLC0415
    from pxr import Gf, Sdf, UsdGeom  # noqa: PLC0415

    from splattwin.io.trajectory import Trajectory  # noqa: PLC0415
    from splattwin.robot.trajectories import (  # noqa: PLC0415
        clear_joint_trajectory,
        joint_channels,
        write_joint_trajectory,
        write_object_poses,
    )
    from splattwin.usd import edit_twin  # noqa: PLC0415
    from splattwin_tasks.robots.franka import ARM_JOINTS  # noqa: PLC0415

    scene = env.twin_scene
    times = np.arange(len(frames)) * env.step_dt
    positions = np.stack([frame["position"] for frame in frames]) + scene.robot_base
    quats = np.stack([frame["quat_wxyz"] for frame in frames])
    with edit_twin(scene.twin_path, create=False) as twin:
        write_object_poses(twin, scene.object_prim, times, positions, quats)
        rate = twin.layers["trajectories"].timeCodesPerSecond
        names = frames[0]["joint_names"]
        if set(ARM_JOINTS) <= set(names) and scene.robot_prim:  # the arm model (the hand model: fingers only)
            try:
                channels = {c.name: c for c in joint_channels(twin.stage, scene.robot_prim, mimic=True)}
            except StageError:  # an articulation root without import-robot's joints (a stand-in)
                channels = {}
            known = set(channels)
            columns = [k for k, name in enumerate(names) if name in known]
            if len(columns) < len(names):
                missing = sorted(set(names) - known)
                logger.warning("record: the twin's robot %s has no joints %s; not keyed", scene.robot_prim, missing)
            if columns:
                joints = np.stack([frame["joints"][columns] for frame in frames])
                # MuJoCo's joint limits are soft: a finger shut with 5 N sits ~6 mm past its 0 stop; key the limit.
                lower = [channels[names[k]].lower for k in columns]
                upper = [channels[names[k]].upper for k in columns]
                joints = np.clip(joints, lower, upper)
                trajectory = Trajectory(times, joints, [names[k] for k in columns])
                write_joint_trajectory(twin, scene.robot_prim, trajectory, source=str(checkpoint))
        elif scene.robot_prim:  # no joints in this rollout: an earlier recording's joint keys must not stay with it
            with contextlib.suppress(StageError):
                clear_joint_trajectory(twin, scene.robot_prim)
        with twin.edit_layer("trajectories") as stage:
            name = re.sub(r"[^A-Za-z0-9_]", "_", task)
            stage.RemovePrim(f"/World/Trajectories/{name}/ee")  # a new recording replaces the previous one
            ee = UsdGeom.Xform.Define(stage, f"/World/Trajectories/{name}/ee")
            ee_translate = ee.AddTranslateOp()
            ee.GetPrim().SetCustomDataByKey("splattwin:rollout", {"task": task, "checkpoint": str(checkpoint)})
            with Sdf.ChangeBlock():
                for t, frame in zip(times, frames, strict=True):
                    ee_translate.Set(Gf.Vec3d(*(frame["ee"] + scene.robot_base).tolist()), float(t * rate))
    return str(twin.layer_path("trajectories"))
