"""``splattwin demo``: build the sample tabletop twin from ``usd_assets/`` end to end and write a report.

Steps: import the reconstruction (a y-up, off-scale, tilted splat and meshes, as SfM/2DGS deliver them) into a
new twin; align it (up axis, metric scale from a measured distance, gravity from the fitted table plane, origin
at the robot base) with the measurements in ``capture.json``; hand the object its Gaussians; run OpenUSD's
validators; write ``report.md`` / ``report.json`` with preview images. Later stages (robot, identification,
rendering, tasks) extend it.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from splattwin.errors import InputError
from splattwin.pipelines.align import AlignConfig, align_twin
from splattwin.pipelines.claim import ClaimConfig, claim_gaussians
from splattwin.pipelines.importing import ImportMeshConfig, ImportSplatConfig, import_mesh, import_splat
from splattwin.pipelines.robot import RobotDemoConfig, robot_report_lines

__all__ = ["DemoConfig", "check_out_folder", "check_overrides", "load_demo_config", "run_demo", "run_demo_from_cli"]

_REPO_ROOT = Path(__file__).resolve().parents[4]


@dataclass(kw_only=True)
class DemoConfig:
    """Defaults of the demo; ``config/demo.yaml`` and command-line overrides change them.

    Attributes:
        out: output folder (the twin, the report, images).
        assets: folder with ``capture.json`` and the files it names.
        stage_name: the twin's root layer file name inside ``out``.
        splat_prim: prim of the scene splat.
        scene_prim: prim of the static scenery collider.
        object_prim: prim of the rigid object to push.
        table: ``auto`` (fit the table plane) or a prim path holding the table.
        claim_margin_m: metres outside the object's collision hull still counted as its Gaussians.
        previews: render the twin (renders.png, overlay.png; docs/rendering.md).
        identify: identify the object's mass from the push logs in ``assets/pushes`` (section "Mass
            identification" of the report).
        robot: the robot step (:class:`~splattwin.pipelines.robot.RobotDemoConfig`).
    """

    out: Path = Path("out/demo")
    assets: Path = field(default_factory=lambda: _REPO_ROOT / "usd_assets" / "tabletop")
    stage_name: str = "twin.usda"
    splat_prim: str = "/World/Scene/Splat"
    scene_prim: str = "/World/Scene/Static"
    object_prim: str = "/World/Objects/Block"
    table: str = "auto"
    claim_margin_m: float = 0.005
    previews: bool = True
    identify: bool = True
    robot: RobotDemoConfig = field(default_factory=RobotDemoConfig)

    def validate(self) -> None:
        """Check the options that need no file access."""
        if not (self.assets / "capture.json").is_file():
            raise InputError(self.assets / "capture.json", "missing: the demo needs the sample capture")
        if self.claim_margin_m < 0:
            raise InputError("claim_margin_m", f"must be >= 0, got {self.claim_margin_m}")


def check_overrides(overrides: Sequence[str]) -> None:
    """One-line errors for hydra overrides: not ``key=value``, or a key :class:`DemoConfig` does not have
    (suggesting the nearest one)."""
    import difflib  # noqa: PLC0415
    from dataclasses import fields, is_dataclass  # noqa: PLC0415

    # Dotted keys reach into nested configs (robot.seed=3): every field of a nested dataclass is a key too.
    defaults = DemoConfig()
    keys = []
    for f in fields(DemoConfig):
        keys.append(f.name)
        value = getattr(defaults, f.name)
        if is_dataclass(value):
            keys += [f"{f.name}.{sub.name}" for sub in fields(value)]
    for override in overrides:
        key, sep, _ = str(override).partition("=")
        key = key.lstrip("+~")
        if not sep or not key:
            raise InputError(f"demo override {override!r}", "expected key=value, e.g. claim_margin_m=0.01")
        if key not in keys:
            near = difflib.get_close_matches(key, keys, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise InputError(f"demo override {override!r}", f"unknown key {key!r}; {hint}keys: {', '.join(keys)}")
        if key == "out":
            raise InputError(f"demo override {override!r}", "give the output folder with --out, not as an override")


def load_demo_config(out: Path, overrides: Sequence[str] = ()) -> DemoConfig:
    """``DemoConfig`` defaults, overridden by ``config/demo.yaml`` (hydra) and then by ``overrides``.

    Raises:
        InputError: an override that is not ``key=value``, names an unknown key (the nearest is suggested) or
            has a value of the wrong type; one line each.
    """
    from hydra import compose, initialize_config_dir  # noqa: PLC0415
    from omegaconf import OmegaConf  # noqa: PLC0415

    check_overrides(overrides)
    config_dir = _REPO_ROOT / "config"
    base = OmegaConf.structured(DemoConfig(out=out))
    try:
        if (config_dir / "demo.yaml").is_file():
            with initialize_config_dir(config_dir=str(config_dir), version_base=None):
                loaded = compose(config_name="demo", overrides=list(overrides))
        elif overrides:
            loaded = OmegaConf.from_dotlist(list(overrides))
        else:
            loaded = OmegaConf.create({})
        merged = OmegaConf.merge(base, loaded, {"out": str(out)})
    except Exception as exc:  # hydra and omegaconf raise many types for bad keys and values
        raise InputError("demo overrides", _one_line(exc)) from None
    config = OmegaConf.to_object(merged)
    config.out = Path(config.out)
    config.assets = Path(config.assets)
    return config


def _one_line(exc: Exception) -> str:
    """The first line of an omegaconf/hydra error, which names the key, the value and the expected type."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    key = getattr(exc, "full_key", None)
    return f"{key}: {text}" if key else text


def check_out_folder(config: DemoConfig, *, overwrite: bool) -> None:
    """Refuse an ``out`` folder that holds a twin already (the demo would replace it) unless ``overwrite``."""
    stage = config.out / config.stage_name
    layers = stage.with_name(f"{stage.stem}_layers")
    if (stage.exists() or layers.exists()) and not overwrite:
        raise InputError(
            config.out, f"already holds a twin ({stage.name}); give --force to replace it, or another --out"
        )


@dataclass(frozen=True)
class _Capture:
    """What ``capture.json`` says: the files and the measurements a person took in the reconstruction frame."""

    splat: Path
    scene_mesh: Path
    object_mesh: Path
    object_material: str
    up_axis: str
    scale_from: tuple[tuple[float, ...], tuple[float, ...], float]
    robot_base: tuple[float, ...]


def _capture(config: DemoConfig) -> _Capture:
    path = config.assets / "capture.json"
    try:
        data = json.loads(path.read_text())
        (p1, p2), metres = data["scale_from"]["points"], float(data["scale_from"]["distance_m"])
        return _Capture(
            splat=config.assets / data["files"]["splat"],
            scene_mesh=config.assets / data["files"]["scene"],
            object_mesh=config.assets / data["files"]["object"],
            object_material=str(data["object"]["material"]),
            up_axis=str(data["up_axis"]),
            scale_from=(tuple(map(float, p1)), tuple(map(float, p2)), metres),
            robot_base=tuple(map(float, data["robot_base"])),
        )
    except json.JSONDecodeError as exc:
        raise InputError(path, f"is not valid JSON ({exc})") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(path, f"is missing or has a malformed entry ({exc!r})") from None


def run_demo(config: DemoConfig, *, console: Any | None = None, overwrite: bool = True) -> Path:
    """Build the twin and write the report; returns the report's path.

    Args:
        config: the demo's options.
        console: rich console for progress.
        overwrite: replace a twin already in ``config.out`` (False: refuse, as ``splattwin demo`` without
            ``--force`` does).
    """
    from rich.progress import Progress  # noqa: PLC0415

    from splattwin.usd import describe_twin, open_twin, validate_stage  # noqa: PLC0415

    config.validate()
    check_out_folder(config, overwrite=overwrite)
    capture = _capture(config)
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    stage = out / config.stage_name
    # The demo rebuilds its own twin from scratch; it touches nothing else in ``out``.
    stage.unlink(missing_ok=True)
    shutil.rmtree(stage.with_name(f"{stage.stem}_layers"), ignore_errors=True)
    (out / "resolved_config.json").write_text(json.dumps(asdict(config), indent=2, default=str))

    timings: dict[str, float] = {}
    steps = ["import splat", "import scene mesh", "import object", "align", "claim object Gaussians"]
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("building the twin", total=len(steps))

        def step(name: str) -> None:
            timings[name] = time.perf_counter()
            progress.update(task, description=name)

        step(steps[0])
        splat = import_splat(ImportSplatConfig(source=capture.splat, stage=stage, prim=config.splat_prim))
        progress.advance(task)
        step(steps[1])
        import_mesh(ImportMeshConfig(source=capture.scene_mesh, stage=stage, prim=config.scene_prim))
        progress.advance(task)
        step(steps[2])
        block = import_mesh(
            ImportMeshConfig(
                source=capture.object_mesh,
                stage=stage,
                prim=config.object_prim,
                dynamic=True,
                material=capture.object_material,
            )
        )
        progress.advance(task)
        step(steps[3])
        aligned = align_twin(
            AlignConfig(
                stage=stage,
                up_axis=capture.up_axis,
                scale_from=capture.scale_from,
                table=config.table,
                origin=capture.robot_base,
            )
        )
        progress.advance(task)
        step(steps[4])
        claimed = claim_gaussians(
            ClaimConfig(stage=stage, splat=config.splat_prim, body=config.object_prim, margin=config.claim_margin_m)
        )
        progress.advance(task)
    # The push logs were recorded in the frame of the aligned twin before the robot re-heads it (align --robot
    # turns the twin about z), so the mass is identified first; a rigid turn leaves mass and inertia as they are.
    timings["identify mass"] = time.perf_counter()
    identification = _identify_step(config, stage, console=console) if config.identify else None
    timings["robot"] = time.perf_counter()
    robot_section = _robot_step(config, stage, aligned.total)
    timings["trajectory"] = time.perf_counter()
    trajectory_section = _trajectory_step(config, stage, out, robot_section)
    timings["validate"] = time.perf_counter()
    twin = open_twin(stage)
    issues = validate_stage(twin.stage)
    description = describe_twin(twin)
    timings["render"] = time.perf_counter()
    renders = _render_step(config, stage, out)
    ordered = list(timings.items()) + [("end", time.perf_counter())]
    durations = {name: ordered[i + 1][1] - t for i, (name, t) in enumerate(ordered[:-1])}

    images = list(renders["images"]) if renders else []
    body = next(b for b in description["bodies"] if b["prim"] == config.object_prim)
    table_step = next((s for s in aligned.record["steps"] if s["name"] == "table"), None)
    report = {
        "stage": str(stage),
        "splat": {"prim": splat.prim, "count": splat.count, "sh_degree": splat.sh_degree},
        "object": {
            "prim": block.prim,
            "mass_kg": body["mass_kg"],  # after alignment: the import saw reconstruction units
            # The composed stage's mass: identified (physics layer) when that step ran, else the prior.
            "mass_kind": (body.get("mass_provenance") or {}).get("kind", block.mass_kind),
            "claimed_gaussians": claimed,
            "mesh_report": block.report,
        },
        "alignment": {
            "scale": aligned.applied.scale,
            "matrix": aligned.applied.matrix().tolist(),
            "steps": [s["name"] for s in aligned.record["steps"]],
            "table_tilt_corrected_deg": None if table_step is None else table_step["tilt_deg"],
            "table_fit_rmse_m": None if table_step is None else table_step["rmse"],  # metric: fitted after scaling
        },
        "robot": robot_section,
        "trajectory": trajectory_section,
        "validation": {"errors": sum(i.severity == "Error" for i in issues), "findings": [i.__dict__ for i in issues]},
        "timings_s": durations,
        "description": description,
        "images": [str(p.name) for p in images],
        "renders": renders and {k: v for k, v in renders.items() if k != "images"},
    }
    if identification is not None:
        report["identification"] = identification
    (out / "report.json").write_text(json.dumps(report, indent=2, default=_json_default))
    report_path = out / "report.md"
    markdown = _markdown(report, capture)
    if "identification" in report:
        markdown += _identification_markdown(report["identification"])
    report_path.write_text(markdown)
    return report_path


def _identify_step(config: DemoConfig, stage: Path, *, console: Any | None = None) -> dict[str, Any]:
    """Identify the block's mass from the MuJoCo-made push logs shipped in ``assets/pushes`` and write it into the
    twin's physics layer; returns the report section (prior -> identified -> true)."""
    from rich.progress import Progress  # noqa: PLC0415

    from splattwin.pipelines.identify import IdentifyConfig, identify_object_mass  # noqa: PLC0415

    logs = sorted(p for p in (config.assets / "pushes").glob("push_*") if p.is_dir())
    if not logs:
        raise InputError(config.assets / "pushes", "no push logs (push_*/) for the identification step")
    true_mass = float(json.loads((logs[0] / "meta.json").read_text()).get("truth", {}).get("mass", float("nan")))
    started = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("identifying the block's mass", total=None)
        result = identify_object_mass(
            IdentifyConfig(
                stage=stage,
                object=config.object_prim,
                logs=logs,
                report=config.out / "identification.json",
                extra={"true_mass_kg": true_mass},
            ),
            progress=lambda n: progress.update(task, completed=n),
        )
    found = result.identification
    return {
        "prior_kg": found.mass_prior,
        "identified_kg": found.mass,
        "uncertainty_kg": found.uncertainty,
        "true_kg": true_mass,
        "error_percent": None if found.mass is None else 100 * (found.mass / true_mass - 1),
        "identifiable": found.identifiable,
        "reason": found.reason,
        "written_to_stage": result.written,
        "evaluations": found.evaluations,
        "seconds": time.perf_counter() - started,
        "logs": [str(p.relative_to(config.assets)) for p in logs],
        "images": [p.name for p in result.images],
    }


def _identification_markdown(section: dict[str, Any]) -> str:
    lines = ["", "## Mass identification", ""]
    if not section["identifiable"]:
        lines.append(f"- Not identifiable: {section['reason']}")
        return "\n".join(lines) + "\n"
    sigma = section["uncertainty_kg"]
    lines += [
        f"- Block mass: prior {section['prior_kg']:.4g} kg -> identified **{section['identified_kg']:.4g} kg** "
        f"(± {sigma:.2g} kg, 1 sigma) -> true {section['true_kg']:.4g} kg "
        f"(error {section['error_percent']:+.2f}%).",
        f"- From {len(section['logs'])} push logs made by MuJoCo ({', '.join(section['logs'])}); "
        f"{section['evaluations']} forward+backward Warp simulations, {section['seconds']:.1f} s.",
        f"- Written to the twin's physics layer: {section['written_to_stage']}.",
        "",
    ]
    lines += [f"![{name}]({name})" for name in section["images"]]
    return "\n".join(lines) + "\n"


def _render_step(config: DemoConfig, stage: Path, out: Path) -> dict[str, Any] | None:
    """Rendering (issue 9): the twin from two cameras at several robot poses, and a depth-composited overlay.

    Returns the report's ``renders`` entry (with the image paths), or None when previews are off.
    """
    if not config.previews:
        return None
    from dataclasses import asdict as as_dict  # noqa: PLC0415

    from splattwin.pipelines.render import render_demo_views  # noqa: PLC0415

    return as_dict(render_demo_views(stage, out))


def _render_markdown(renders: dict[str, Any] | None) -> list[str]:
    if not renders:
        return []
    return [
        "## Renders",
        f"- {renders['gaussians']:,} Gaussians drawn by the CPU splat rasterizer from {len(renders['cameras'])} "
        f"cameras at {len(renders['poses'])} robot pose(s), {renders['seconds_per_frame']:.2f} s per frame.",
        "- `renders.png`: rows are robot poses, columns cameras. `overlay.png` (camera 1): the splats | meshes "
        f"without Gaussians ({', '.join(renders['meshes_composited'])}) | the depth-tested composite | "
        "instance segmentation (colour per Gaussian prim).",
        "",
    ]


def _robot_step(config: DemoConfig, stage: Path, twin_from_recon: Any) -> dict[str, Any]:
    """The robot (issue 5): a Panda splat, its base fitted, Gaussians bound, the twin's x along the base."""
    import importlib.util  # noqa: PLC0415

    from splattwin.pipelines.robot import run_robot_demo_step  # noqa: PLC0415

    if not config.robot.enabled:
        return {"skipped": "robot.enabled=false"}
    if config.robot.urdf.startswith("pybullet_data:") and importlib.util.find_spec("pybullet_data") is None:
        return {"skipped": "the demo's Panda comes from the pybullet wheel: pip install 'splattwin[robots]'"}
    return run_robot_demo_step(
        config.robot,
        stage=stage,
        out=config.out,
        capture_json=config.assets / "capture.json",
        twin_from_recon=twin_from_recon,
    )


def _trajectory_step(config: DemoConfig, stage: Path, out: Path, robot_section: dict[str, Any]) -> dict[str, Any]:
    """Trajectories in the stage (issue 8): the sample wave keyed on the robot, checked, exported at 50 Hz."""
    from splattwin.pipelines.trajectory import export_trajectory, import_trajectory  # noqa: PLC0415

    source = config.assets / "panda_wave.csv"
    if "skipped" in robot_section or not source.is_file():
        return {"skipped": robot_section.get("skipped") or f"no {source.name} in {config.assets}"}
    keyed = import_trajectory(source, stage=stage, robot=config.robot.prim)
    exported = export_trajectory(stage, config.robot.prim, out / "trajectory_50hz.csv", rate_hz=50.0)
    return {
        "source": str(source),
        "robot": config.robot.prim,
        "samples": len(keyed.trajectory.times),
        "joints": len(keyed.trajectory.joint_names),
        "issues": [issue.message for issue in keyed.issues],
        "exported": exported.trajectory.times.size,
        "file": "trajectory_50hz.csv",
    }


def _trajectory_markdown(section: dict[str, Any] | None) -> list[str]:
    if not section:
        return []
    if "skipped" in section:
        return ["## Trajectory in the stage", f"- skipped: {section['skipped']}", ""]
    issues = section["issues"]
    return [
        "## Trajectory in the stage",
        f"- `{Path(section['source']).name}`: {section['samples']} samples x {section['joints']} joints keyed as time "
        f"samples on `{section['robot']}` (trajectories layer; edit them on Kit's timeline, docs/extension.md).",
        f"- Check: {'; '.join(issues) if issues else 'within joint and velocity limits, no gaps'}.",
        f"- Exported resampled to 50 Hz: `{section['file']}` ({section['exported']} samples).",
        "",
    ]


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    return str(value)


def _markdown(report: dict[str, Any], capture: _Capture) -> str:
    align = report["alignment"]
    obj = report["object"]
    lines = [
        "# SplatTwin demo report",
        "",
        f"Twin: `{report['stage']}` (root layer; sublayers in `{Path(report['stage']).stem}_layers/`).",
        "",
        "## Content",
        f"- Scene splat `{report['splat']['prim']}`: {report['splat']['count']:,} Gaussians imported, "
        f"SH degree {report['splat']['sh_degree']}; {obj['claimed_gaussians']:,} handed to the object.",
        f"- Object `{obj['prim']}`: mass {obj['mass_kg']:.4g} kg ("
        + (
            "identified from robot pushes, see Mass identification"
            if obj["mass_kind"] == "identified"
            else f"{obj['mass_kind']}: volume x density of {capture.object_material}"
        )
        + f"), watertight={obj['mesh_report']['watertight']}.",
        "",
        "## Frame unification",
        f"- Steps: {' -> '.join(align['steps'])}; scale {align['scale']:.6g} m per reconstruction unit.",
    ]
    if align["table_tilt_corrected_deg"] is not None:
        lines.append(
            f"- Table plane: {align['table_tilt_corrected_deg']:.3f} deg of tilt corrected, fit RMSE "
            f"{1000 * align['table_fit_rmse_m']:.2f} mm."
        )
    lines += ["", *robot_report_lines(report["robot"])]
    lines += _trajectory_markdown(report.get("trajectory"))
    lines += [
        "## OpenUSD validation",
        f"- {report['validation']['errors']} error(s), {len(report['validation']['findings'])} finding(s) in all.",
        "",
        "## Timings",
        *[f"- {name}: {seconds:.2f} s" for name, seconds in report["timings_s"].items()],
        "",
    ]
    lines += _render_markdown(report.get("renders"))
    lines += [f"![{name}]({name})" for name in report["images"]]
    return "\n".join(lines) + "\n"


def run_demo_from_cli(out: Path, overrides: Sequence[str], *, console: Any | None = None, force: bool = False) -> Path:
    """Entry of ``splattwin demo``: load the configuration, run, return the report path.

    A folder holding a twin is refused unless ``force`` (``--force``), before anything is written.
    """
    config = load_demo_config(out, overrides)
    check_out_folder(config, overwrite=force)
    return run_demo(config, console=console, overwrite=force)
