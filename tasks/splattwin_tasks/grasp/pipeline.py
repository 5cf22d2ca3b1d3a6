"""The grasp verbs' work: demonstrations in the twin, training (phases 1 and 2), evaluation, ONNX export and the
cross-mass study. ``splattwin grasp-train`` / ``grasp-eval`` / ``grasp-export`` / ``grasp-study`` find this module
through the ``splattwin.tasks`` entry point ``grasp`` (the core never imports the task package by name).

Evaluation protocol (docs/grasp.md): each trial shifts the object by up to ``jitter_m`` in x and y, tells the
network the mass through a noisy identification (log-normal, relative standard deviation ``mass_uncertainty``),
and runs the network's grasp centre and force in the twin (:mod:`.trials`): lifted 6 cm, held 0.5 s without
slipping more than 5 mm, never over the fragility ceiling.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splattwin.errors import InputError, SplatTwinError
from splattwin_tasks.grasp.dataset import GraspDataset, concatenate, load_demonstrations, save_demonstrations
from splattwin_tasks.grasp.model import (
    GraspBatch,
    GraspMLP,
    Phase1Cfg,
    Phase2Cfg,
    dream_force_target,
    grip_force_from_head,
    refine,
    train_supervised,
)
from splattwin_tasks.grasp.sampler import sample_antipodal, surface_points
from splattwin_tasks.grasp.trials import GraspRuntime

__all__ = [
    "GraspConfig",
    "collect_demonstrations",
    "evaluate",
    "export_onnx",
    "load_policy",
    "parse_overrides",
    "run_study",
    "study_markdown",
    "train_policy",
    "write_evaluation",
]

ONNX_TOLERANCE = 1e-4
"""Largest difference between onnxruntime's and torch's outputs the export accepts."""

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: the verbs' progress bars."""


@dataclass(kw_only=True)
class GraspConfig:
    """Settings of every grasp verb (``key=value`` overrides on the command line).

    Attributes:
        twin: the twin's root layer. object_prim: the object. require_robot: fail on a robotless twin.
        masses: object masses [kg] to collect / evaluate at (empty: the twin's mass).
        demos: demonstrations per mass. points: surface points the network reads.
        use_mass: condition the network on the mass. mass_uncertainty: relative standard deviation of the
            identified mass the network is told (training and evaluation).
        jitter_m: the object's random shift in x and y per trial [m].
        force_spread: demonstrators grip at DREAM's force for the mass times a log-uniform factor in
            ``[1 / force_spread, force_spread]``.
        f_max_n: DREAM's force normaliser [N]. epochs: phase 1 epochs. refine_iterations, refine_rollouts: phase 2.
        trials: evaluation trials per mass. num_envs: worlds stepped together. seed: everything's seed.
        out: output folder. demonstrations: extra demonstration files (external, npz v1), comma-separated.
        checkpoint: the policy to evaluate or export. progress: show progress bars.
    """

    twin: str = "out/demo/twin.usda"
    object_prim: str = "/World/Objects/Block"
    require_robot: bool = True
    masses: list = field(default_factory=list)
    demos: int = 200
    points: int = 128
    use_mass: bool = True
    mass_uncertainty: float = 0.1
    jitter_m: float = 0.015
    force_spread: float = 2.0
    f_max_n: float = 40.0
    epochs: int = 150
    refine_iterations: int = 6
    refine_rollouts: int = 48
    trials: int = 100
    num_envs: int = 16
    seed: int = 0
    out: str = "out/grasp"
    demonstrations: str = ""
    checkpoint: str = ""
    progress: bool = True

    def validate(self) -> None:
        """InputError naming the setting out of range."""
        positive = ("demos", "points", "trials", "num_envs", "f_max_n", "force_spread")
        for name in positive:
            if not getattr(self, name) > 0:
                raise InputError(name, f"must be > 0, got {getattr(self, name)!r}")
        for name in ("epochs", "refine_iterations", "refine_rollouts", "jitter_m", "mass_uncertainty"):
            if getattr(self, name) < 0:
                raise InputError(name, f"must be >= 0, got {getattr(self, name)!r}")
        if not isinstance(self.masses, list | tuple) or any(not float(m) > 0 for m in self.masses):
            raise InputError("masses", f"must be a list of masses > 0 kg, got {self.masses!r}")


def parse_overrides(overrides: list[str]) -> GraspConfig:
    """A :class:`GraspConfig` from ``key=value`` strings (YAML values: ``masses=[0.1,0.3]``, ``use_mass=false``)."""
    import yaml  # noqa: PLC0415

    cfg = GraspConfig()
    known = {name for name in cfg.__dataclass_fields__}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or key not in known:
            raise InputError(item, f"expected key=value with key one of {', '.join(sorted(known))}")
        value = yaml.safe_load(text) if text else ""
        current = getattr(cfg, key)
        if isinstance(current, bool) != isinstance(value, bool) or (
            isinstance(current, int | float) and not isinstance(value, int | float)
        ):
            raise InputError(key, f"expected a value like {current!r}, got {text!r}")
        if isinstance(current, str):
            value = str(value)
        if isinstance(current, list) and not isinstance(value, list):
            value = [value]
        setattr(cfg, key, type(current)(value) if isinstance(current, float) else value)
    cfg.validate()
    return cfg


def _quat_matrix(q: np.ndarray) -> np.ndarray:
    from splattwin.geometry.transforms import quat_wxyz_to_matrix  # noqa: PLC0415

    return np.stack([quat_wxyz_to_matrix(row) for row in np.asarray(q, dtype=np.float64).reshape(-1, 4)])


def _world_points(body_points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Body-frame points [P, 3] at poses [K, 7] -> [K, P, 3] (robot-base frame)."""
    rot = _quat_matrix(pose[:, 3:])
    return np.einsum("kij,pj->kpi", rot, body_points) + pose[:, None, :3]


def _mass_input(mass_kg: np.ndarray, uncertainty: float, rng: np.random.Generator) -> np.ndarray:
    """The network's mass input for a noisy identification: ``[log(m_identified / 1 kg), uncertainty]`` [K, 2]."""
    sigma = math.sqrt(math.log1p(uncertainty**2))
    observed = np.asarray(mass_kg) * np.exp(rng.normal(0.0, sigma, len(mass_kg)))
    return np.stack([np.log(observed), np.full(len(mass_kg), uncertainty)], 1)


class _Twin:
    """The runtime and the object's facts the verbs share."""

    def __init__(self, cfg: GraspConfig) -> None:
        from splattwin_tasks.robots.franka import closing_yaw  # noqa: PLC0415

        self.runtime = GraspRuntime(
            cfg.twin, object_prim=cfg.object_prim, num_envs=cfg.num_envs, require_robot=cfg.require_robot
        )
        scene = self.runtime.scene
        self.scene, self.friction = scene, self.runtime.friction
        self.rest_pose = np.concatenate([self.runtime.rest_position, self.runtime.object_quat_wxyz])
        self.body_points = surface_points(scene.object_vertices, scene.object_faces, cfg.points, seed=cfg.seed)
        yaw, _ = closing_yaw(scene)
        rot = _quat_matrix(self.rest_pose[3:])[0]
        self.closing_axis_body = rot.T @ np.array([math.cos(yaw), math.sin(yaw), 0.0])
        self.grasp_quat = np.array([math.cos((yaw - math.pi / 2) / 2), 0.0, 0.0, math.sin((yaw - math.pi / 2) / 2)])

    def poses(self, shifts: np.ndarray) -> np.ndarray:
        pose = np.tile(self.rest_pose, (len(shifts), 1))
        pose[:, :2] += shifts
        return pose

    def masses(self, cfg: GraspConfig) -> list[float]:
        return [float(m) for m in cfg.masses] or [float(self.scene.mass.mass_kg)]


def _tick(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def collect_demonstrations(
    cfg: GraspConfig, *, progress: Progress | None = None, twin: _Twin | None = None
) -> GraspDataset:
    """Demonstrations in the twin: ``cfg.demos`` antipodal candidates per mass, each tried with a demonstrator's
    force (DREAM's force for the mass times a log-uniform factor up to ``cfg.force_spread``)."""
    twin = twin or _Twin(cfg)
    rng = np.random.default_rng(cfg.seed)
    candidates, counts = sample_antipodal(
        twin.scene.object_vertices,
        twin.scene.object_faces,
        friction=twin.friction,
        closing_axis=twin.closing_axis_body,
        seed=cfg.seed,
    )
    parts = []
    masses = twin.masses(cfg)
    for done, mass in enumerate(masses):
        pick = rng.integers(len(candidates), size=cfg.demos)
        shifts = rng.uniform(-cfg.jitter_m, cfg.jitter_m, (cfg.demos, 2))
        pose = twin.poses(shifts)
        centres = np.einsum("kij,kj->ki", _quat_matrix(pose[:, 3:]), candidates.centres[pick]) + pose[:, :3]
        label = float(dream_force_target(torch.tensor(mass), torch.tensor(2.0), cfg.f_max_n))
        base = float(grip_force_from_head(torch.tensor(label), f_max_n=cfg.f_max_n, friction=twin.friction))
        forces = base * np.exp(rng.uniform(-math.log(cfg.force_spread), math.log(cfg.force_spread), cfg.demos))
        outcome = twin.runtime.run(mass, object_xy_m=shifts, grasp_centres_m=centres, grip_force_n=forces)
        d = cfg.demos
        parts.append(
            GraspDataset(
                objects=np.array([cfg.object_prim]),
                object_points=twin.body_points[None].astype(np.float64),
                object_index=np.zeros(d, dtype=np.int64),
                object_pose=pose,
                mass_kg=np.full(d, mass),
                mass_rel_uncertainty=np.full(d, cfg.mass_uncertainty),
                pregrasp_pose=np.concatenate([outcome.grasp_centres, np.tile(twin.grasp_quat, (d, 1))], 1),
                joint_targets=outcome.joint_targets,
                grip_force_n=forces,
                contacts=outcome.contacts,
                outcome=outcome.success.astype(np.int64),
                contact_sustained=outcome.contact_sustained.astype(np.int64),
                source=np.full(d, "twin"),
            )
        )
        _tick(progress, f"demonstrations ({counts.kept} candidates)", done + 1, len(masses))
    return concatenate(parts)


def _batch(ds: GraspDataset, cfg: GraspConfig, rng: np.random.Generator) -> GraspBatch:
    points = np.stack(
        [_world_points(ds.object_points[i], ds.object_pose[k : k + 1])[0] for k, i in enumerate(ds.object_index)]
    )
    mass = np.concatenate(
        [_mass_input(ds.mass_kg[k : k + 1], float(ds.mass_rel_uncertainty[k]), rng) for k in range(len(ds))]
    )
    t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32))  # noqa: E731
    return GraspBatch(
        points=t(points),
        mass=t(mass),
        mass_kg=t(ds.mass_kg),
        centre=t(ds.pregrasp_pose[:, :3]),
        joints=t(ds.joint_targets),
        contacts=t(ds.contacts),
        labels=t(np.stack([ds.contact_sustained, ds.outcome], 1)),
    )


def _rollout(twin: _Twin, batch: GraspBatch, shifts: np.ndarray):  # noqa: ANN202
    def run(rows: np.ndarray, centres: np.ndarray, forces: np.ndarray) -> dict[str, np.ndarray]:
        out = {
            "success": np.zeros(len(rows)),
            "contact_sustained": np.zeros(len(rows)),
            "contacts": np.zeros(len(rows)),
        }
        masses = batch.mass_kg.numpy()[rows]
        for mass in np.unique(masses):
            sel = masses == mass
            result = twin.runtime.run(
                float(mass), object_xy_m=shifts[rows[sel]], grasp_centres_m=centres[sel], grip_force_n=forces[sel]
            )
            out["success"][sel], out["contact_sustained"][sel] = result.success, result.contact_sustained
            out["contacts"][sel] = result.contacts
        return out

    return run


def train_policy(
    cfg: GraspConfig,
    dataset: GraspDataset | None = None,
    *,
    progress: Progress | None = None,
    twin: _Twin | None = None,
) -> dict[str, Any]:
    """Phase 1 on the demonstrations (collected here unless given, plus ``cfg.demonstrations``), then phase 2 in
    the twin; writes ``policy.pt`` and ``demonstrations.npz`` to ``cfg.out``; returns a summary."""
    torch.manual_seed(cfg.seed)
    twin = twin or _Twin(cfg)
    start = time.perf_counter()
    if dataset is None:
        dataset = collect_demonstrations(cfg, progress=progress, twin=twin)
    extra = [load_demonstrations(p) for p in cfg.demonstrations.split(",") if p.strip()]
    if extra:
        dataset = concatenate([dataset, *extra])
    collect_s = time.perf_counter() - start
    if not (dataset.outcome == 1).any():
        raise InputError(
            "demonstrations", f"none of the {len(dataset)} demonstrations succeeded: nothing to learn from"
        )
    rng = np.random.default_rng(cfg.seed + 1)
    batch = _batch(dataset, cfg, rng)
    model = GraspMLP(use_mass=cfg.use_mass)
    p1 = Phase1Cfg(epochs=cfg.epochs, f_max_n=cfg.f_max_n, seed=cfg.seed)
    start = time.perf_counter()
    history = train_supervised(
        model, batch, p1, on_epoch=lambda e, _: _tick(progress, "phase 1 (supervised)", e + 1, p1.epochs)
    )
    p2 = Phase2Cfg(iterations=cfg.refine_iterations, rollouts=cfg.refine_rollouts, seed=cfg.seed)
    shifts = np.asarray(dataset.object_pose[:, :2] - twin.rest_pose[:2])
    rates = refine(
        model,
        batch,
        _rollout(twin, batch, shifts),
        p2,
        f_max_n=cfg.f_max_n,
        friction=twin.friction,
        on_iteration=lambda i, _: _tick(progress, "phase 2 (rollouts)", i + 1, p2.iterations),
    )
    train_s = time.perf_counter() - start
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    save_demonstrations(dataset, out / "demonstrations.npz")
    checkpoint = {
        "state_dict": model.state_dict(),
        "use_mass": cfg.use_mass,
        "f_max_n": cfg.f_max_n,
        "friction": twin.friction,
        "body_points": twin.body_points,
        "config": asdict(cfg),
    }
    tmp = out / "policy.pt.tmp"
    torch.save(checkpoint, tmp)
    tmp.replace(out / "policy.pt")
    return {
        "checkpoint": str(out / "policy.pt"),
        "demonstrations": len(dataset),
        "demo_success": float((dataset.outcome == 1).mean()),
        "phase1_loss_first": history[0] if history else None,
        "phase1_loss_last": history[-1] if history else None,
        "phase2_success": rates,
        "collect_s": collect_s,
        "train_s": train_s,
    }


def load_policy(path: str | Path) -> tuple[GraspMLP, dict[str, Any]]:
    """The network and checkpoint of ``policy.pt``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such policy checkpoint (train one with `splattwin grasp-train`)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        model = GraspMLP(use_mass=bool(checkpoint["use_mass"]))
        model.load_state_dict(checkpoint["state_dict"])
    except (KeyError, RuntimeError, EOFError) as error:
        raise InputError(path, f"not a grasp policy checkpoint: {error}") from None
    model.eval()
    return model, checkpoint


def evaluate(
    model: GraspMLP,
    checkpoint: dict[str, Any],
    cfg: GraspConfig,
    *,
    masses: list[float] | None = None,
    progress: Progress | None = None,
    twin: _Twin | None = None,
) -> list[dict[str, Any]]:
    """``cfg.trials`` trials of the policy at each mass; one row per mass (success rate and failure counts)."""
    twin = twin or _Twin(cfg)
    rng = np.random.default_rng(cfg.seed + 1000)
    rows = []
    masses = masses or twin.masses(cfg)
    points_body = np.asarray(checkpoint["body_points"], dtype=np.float64)
    for done, mass in enumerate(masses):
        shifts = rng.uniform(-cfg.jitter_m, cfg.jitter_m, (cfg.trials, 2))
        points = torch.as_tensor(_world_points(points_body, twin.poses(shifts)), dtype=torch.float32)
        mass_in = torch.as_tensor(
            _mass_input(np.full(cfg.trials, mass), cfg.mass_uncertainty, rng), dtype=torch.float32
        )
        with torch.no_grad():
            out = model.predict(points, mass_in)
            forces = grip_force_from_head(out.force, f_max_n=checkpoint["f_max_n"], friction=checkpoint["friction"])
        result = twin.runtime.run(
            mass, object_xy_m=shifts, grasp_centres_m=out.centre.double().numpy(), grip_force_n=forces.double().numpy()
        )
        rows.append(
            {
                "mass_kg": mass,
                "trials": cfg.trials,
                "success_rate": float(result.success.mean()),
                **result.failure_counts(),
                "force_n_median": float(np.median(forces.numpy())),
            }
        )
        _tick(progress, "evaluation", done + 1, len(masses))
    return rows


def export_onnx(model: GraspMLP, checkpoint: dict[str, Any], path: str | Path, *, repeats: int = 200) -> dict[str, Any]:
    """Write the network as ONNX (opset 17) and check onnxruntime's outputs against torch on random inputs; returns
    the largest difference per output and the inference times [ms] of both."""
    import onnxruntime  # noqa: PLC0415

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    points = torch.as_tensor(np.asarray(checkpoint["body_points"], dtype=np.float32))[None] + torch.tensor(
        [0.3, 0.35, 0.03]
    )
    mass = torch.tensor([[math.log(0.2), 0.1]])
    tmp = path.with_suffix(".onnx.tmp")
    names = ["centre", "joints", "contact_logits", "force"]
    torch.onnx.export(
        model,
        (points, mass),
        str(tmp),
        input_names=["points", "mass"],
        output_names=names,
        dynamic_axes={"points": {0: "batch", 1: "points"}, "mass": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    tmp.replace(path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds_names = [i.name for i in session.get_inputs()]
    generator = torch.Generator().manual_seed(0)
    worst = dict.fromkeys(names, 0.0)
    for _ in range(5):
        p = points + 0.02 * torch.randn(points.shape, generator=generator)
        m = mass + 0.5 * torch.randn(mass.shape, generator=generator)
        with torch.no_grad():
            expected = model(p, m)
        feeds = {"points": p.numpy(), "mass": m.numpy()}
        got = session.run(names, {k: v for k, v in feeds.items() if k in feeds_names})
        for name, e, g in zip(names, expected, got, strict=True):
            worst[name] = max(worst[name], float(np.abs(e.numpy() - g).max()))
    feeds = {k: v for k, v in {"points": points.numpy(), "mass": mass.numpy()}.items() if k in feeds_names}
    start = time.perf_counter()
    for _ in range(repeats):
        session.run(names, feeds)
    onnx_ms = (time.perf_counter() - start) / repeats * 1e3
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(repeats):
            model(points, mass)
    torch_ms = (time.perf_counter() - start) / repeats * 1e3
    if max(worst.values()) > ONNX_TOLERANCE:
        path.unlink()
        raise SplatTwinError(
            f"{path}: onnxruntime's outputs differ from torch's by {worst} (> {ONNX_TOLERANCE}); removed"
        )
    return {"onnx": str(path), "max_abs_difference": worst, "torch_ms": torch_ms, "onnx_ms": onnx_ms}


def write_evaluation(rows: list[dict[str, Any]], out: str | Path) -> list[str]:
    """``eval.json`` and ``eval.png`` (success and failure causes per mass) in ``out``; returns their paths."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(rows, indent=2) + "\n")
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    x = np.arange(len(rows))
    bottom = np.zeros(len(rows))
    for key, colour in (
        ("success", "tab:green"),
        ("crushed", "tab:red"),
        ("slipped", "tab:orange"),
        ("dropped", "tab:grey"),
    ):
        values = np.array([r["success_rate"] * r["trials"] if key == "success" else r[key] for r in rows], dtype=float)
        values = values / np.array([r["trials"] for r in rows]) * 100
        ax.bar(x, values, bottom=bottom, color=colour, label=key)
        bottom += values
    ax.set_xticks(x, [f"{r['mass_kg']:g} kg" for r in rows])
    ax.set_ylabel("trials [%]")
    ax.legend(loc="lower right")
    fig.tight_layout()
    tmp = out / "eval.tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out / "eval.png")
    return [str(out / "eval.json"), str(out / "eval.png")]


def run_study(cfg: GraspConfig, *, seeds: int = 3, progress: Progress | None = None) -> dict[str, Any]:
    """DREAM's Table III in the twin: per seed, demonstrations at each of ``cfg.masses`` (3), one network without
    mass per training mass and one mass-conditioned network on all of them, each evaluated at every mass
    (``cfg.trials`` trials per cell). Writes ``study.json``, ``study.md`` and ``study.png`` to ``cfg.out``."""
    if len(cfg.masses) < 2:
        raise InputError("masses", f"the study needs at least 2 masses, got {cfg.masses!r}")
    masses = [float(m) for m in cfg.masses]
    twin = _Twin(cfg)
    cells: dict[str, list[list[float]]] = {}
    timings = []
    total = seeds * (len(masses) + 1)
    done = 0
    for seed in range(seeds):
        seeded = GraspConfig(**{**asdict(cfg), "seed": cfg.seed + seed})
        demos = collect_demonstrations(seeded, twin=twin)
        runs = [(f"no mass, trained {m:g} kg", False, demos.subset(demos.mass_kg == m)) for m in masses]
        runs.append(("mass-conditioned", True, demos))
        for name, use_mass, data in runs:
            run_cfg = GraspConfig(
                **{
                    **asdict(seeded),
                    "use_mass": use_mass,
                    "out": str(Path(cfg.out) / f"seed{seed}" / name.replace(" ", "_").replace(",", "")),
                }
            )
            summary = train_policy(run_cfg, data, twin=twin)
            timings.append(summary["train_s"])
            model, checkpoint = load_policy(summary["checkpoint"])
            rows = evaluate(model, checkpoint, run_cfg, masses=masses, twin=twin)
            cells.setdefault(name, []).append([row["success_rate"] for row in rows])
            done += 1
            _tick(progress, f"seed {seed}: {name}", done, total)
        result = _write_study(cfg, masses, cells, seed + 1, timings)
    return result


def _write_study(
    cfg: GraspConfig, masses: list[float], cells: dict, seeds_done: int, timings: list[float]
) -> dict[str, Any]:
    """``study.json``, ``study.md`` and ``study.png`` of the seeds done so far (rewritten after each seed)."""
    table = {name: np.asarray(values) for name, values in cells.items()}
    result = {
        "masses_kg": masses,
        "trials_per_cell": cfg.trials,
        "seeds": seeds_done,
        "rows": {
            name: {"mean": v.mean(0).tolist(), "min": v.min(0).tolist(), "max": v.max(0).tolist()}
            for name, v in table.items()
        },
        "train_s_mean": float(np.mean(timings)),
    }
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "study.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "study.md").write_text(study_markdown(result))
    _plot(result, out / "study.png")
    return result


def study_markdown(result: dict[str, Any]) -> str:
    """The study's table: a row per network, a column per evaluation mass, mean success (min-max over seeds)."""
    masses = result["masses_kg"]
    lines = ["| network \\ eval mass | " + " | ".join(f"{m:g} kg" for m in masses) + " |"]
    lines.append("| --- |" + " --- |" * len(masses))
    for name, row in result["rows"].items():
        cells = [
            f"{100 * a:.0f}% ({100 * lo:.0f}-{100 * hi:.0f})"
            for a, lo, hi in zip(row["mean"], row["min"], row["max"], strict=True)
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    names = list(result["rows"])
    values = np.array([result["rows"][n]["mean"] for n in names]) * 100
    fig, ax = plt.subplots(figsize=(6.4, 0.6 * len(names) + 1.6))
    image = ax.imshow(values, vmin=0, vmax=100, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(result["masses_kg"])), [f"{m:g} kg" for m in result["masses_kg"]])
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("evaluation mass")
    for (r, c), v in np.ndenumerate(values):
        ax.text(c, r, f"{v:.0f}%", ha="center", va="center", color="white" if v < 60 else "black")
    ax.set_title(f"grasp success, {result['trials_per_cell']} trials/cell, {result['seeds']} seeds")
    fig.colorbar(image, ax=ax, label="success [%]")
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
