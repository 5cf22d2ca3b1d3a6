"""One scripted action sequence in one runtime: the hand's path and the object's pose, for runtime parity.

``python -m splattwin_tasks.parity --runtime embedded --out a.npz`` (any venv) and ``--runtime isaaclab`` (in
``.venv-isaaclab``) record the same Push rollout; ``--compare a.npz b.npz`` prints the table (docs/tasks.md,
"Parity between runtimes"). Both runtimes start from the same state: fixed mass, no start jitter, the hand at a
fixed distance straight behind the block; after one held step the script is a free-motion phase (hand sideways,
away from the block) then a push phase (full steps from the hand towards the block, the direction fixed when the
phase starts).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import torch

__all__ = ["FREE_STEPS", "PARITY_OVERRIDES", "PUSH_STEPS", "compare", "push_action", "record", "scripted_actions"]

PARITY_OVERRIDES = {
    "mass_distribution": "fixed",
    "start_jitter_m": 0.0,
    "hand_start_distance_m": (0.1, 0.1),
    "hand_start_angle_deg": 0.0,
    "target_distance_m": (0.1, 0.1),
    "target_heading_deg": 180.0,  # the target at -x of the block: the hand starts at +x of it, in both runtimes
    "episode_length_s": 100.0,
}


FREE_STEPS = 10
PUSH_STEPS = 40


def scripted_actions(free_steps: int = FREE_STEPS) -> np.ndarray:
    """The free-motion script [free_steps, 2] in [-1, 1]: sideways (+y) at half the step, away from the block."""
    return np.tile(np.array([0.0, 0.5], dtype=np.float32), (free_steps, 1))


def push_action(ee_xy: np.ndarray, object_xy: np.ndarray) -> np.ndarray:
    """The push script's action [2]: a full step from the hand [2] towards the object [2] (metres), held."""
    direction = np.asarray(object_xy, dtype=np.float64) - np.asarray(ee_xy, dtype=np.float64)
    return (direction / max(float(np.linalg.norm(direction)), 1e-9)).astype(np.float32)


def record(runtime: str, twin: str | None, fixed_mass_kg: float = 0.3, num_envs: int = 1) -> dict[str, np.ndarray]:
    """Run :func:`scripted_actions` in ``runtime``; returns ``ee`` [T+1, 3], ``object_pos`` [T+1, 3] and
    ``object_quat_wxyz`` [T+1, 4] of env 0, env frame, metres, ``dt`` (the env step, s)."""
    import splattwin_tasks  # noqa: PLC0415
    from splattwin_tasks import mdp  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env = splattwin_tasks.make(
            "SplatTwin-Push-Franka-v0",
            num_envs=num_envs,
            runtime=runtime,
            twin=twin,
            fixed_mass_kg=fixed_mass_kg,
            **PARITY_OVERRIDES,
        )
    try:
        base = getattr(env, "unwrapped", env)
        env.reset()
        rows: dict[str, list[np.ndarray]] = {"ee": [], "object_pos": [], "object_quat_wxyz": []}

        def sample() -> None:
            rows["ee"].append(mdp.ee_position(base)[0].detach().cpu().numpy())
            rows["object_pos"].append(mdp.object_position(base)[0].detach().cpu().numpy())
            rows["object_quat_wxyz"].append(mdp.object_quat_wxyz(base)[0].detach().cpu().numpy())

        # One held step first: Isaac Lab's frame transformer reports the hand only after a physics step.
        env.step(torch.zeros(num_envs, 2))
        sample()
        for action in scripted_actions():
            env.step(torch.as_tensor(action).expand(num_envs, 2).clone())
            sample()
        push = push_action(rows["ee"][-1][:2], rows["object_pos"][-1][:2])
        for _ in range(PUSH_STEPS):
            env.step(torch.as_tensor(push).expand(num_envs, 2).clone())
            sample()
        dt = float(getattr(base, "step_dt", 0.0))
    finally:
        env.close()
    out = {k: np.asarray(v, dtype=np.float64) for k, v in rows.items()}
    out["dt"] = np.asarray(dt)
    return out


def _tilt_deg(quat_wxyz: np.ndarray) -> np.ndarray:
    """Rotation angle of each orientation [T, 4] (w, x, y, z) away from the first one [deg], shape [T]."""
    q = quat_wxyz / np.linalg.norm(quat_wxyz, axis=1, keepdims=True)
    dot = np.abs(q @ q[0])  # |<q_t, q_0>| = cos(angle / 2), sign-free (q and -q are one rotation)
    return np.degrees(2.0 * np.arccos(np.clip(dot, 0.0, 1.0)))


def compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray], free_steps: int = FREE_STEPS) -> dict[str, float]:
    """Differences of two recordings: hand path (relative to each start) over the free phase, max [m]; the hand's
    start [m]; the object's final displacement (relative to each start) [m]; each object's largest height change
    [m] and rotation away from its start [deg]."""
    ee_a, ee_b = a["ee"] - a["ee"][0], b["ee"] - b["ee"][0]
    obj_a, obj_b = a["object_pos"] - a["object_pos"][0], b["object_pos"] - b["object_pos"][0]
    return {
        "hand_start_m": float(np.linalg.norm(a["ee"][0] - b["ee"][0])),
        "hand_free_path_max_m": float(np.linalg.norm(ee_a[: free_steps + 1] - ee_b[: free_steps + 1], axis=1).max()),
        "hand_path_max_m": float(np.linalg.norm(ee_a - ee_b, axis=1).max()),
        "object_final_m": float(np.linalg.norm(obj_a[-1] - obj_b[-1])),
        "object_moved_a_m": float(np.linalg.norm(obj_a[-1])),
        "object_moved_b_m": float(np.linalg.norm(obj_b[-1])),
        "object_height_drift_a_m": float(np.abs(obj_a[:, 2]).max()),
        "object_height_drift_b_m": float(np.abs(obj_b[:, 2]).max()),
        "object_tilt_a_deg": float(_tilt_deg(a["object_quat_wxyz"]).max()),
        "object_tilt_b_deg": float(_tilt_deg(b["object_quat_wxyz"]).max()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", choices=("embedded", "isaaclab"))
    parser.add_argument("--twin", default=None)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--compare", nargs=2, type=Path)
    args = parser.parse_args(argv)
    if args.compare:
        a, b = (dict(np.load(p)) for p in args.compare)
        for key, value in compare(a, b).items():
            print(f"{key:28s} {value:10.4f}")
        return
    rec = record(args.runtime, args.twin)
    np.savez(args.out, **rec)
    for t, (ee, obj) in enumerate(zip(rec["ee"], rec["object_pos"], strict=True)):
        print(t, np.round(ee, 4), np.round(obj, 4))


if __name__ == "__main__":
    main()
