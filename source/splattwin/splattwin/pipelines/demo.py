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

__all__ = ["DemoConfig", "load_demo_config", "run_demo", "run_demo_from_cli"]

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
        previews: write preview images.
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
    robot: RobotDemoConfig = field(default_factory=RobotDemoConfig)

    def validate(self) -> None:
        """Check the options that need no file access."""
        if not (self.assets / "capture.json").is_file():
            raise InputError(self.assets / "capture.json", "missing: the demo needs the sample capture")
        if self.claim_margin_m < 0:
            raise InputError("claim_margin_m", f"must be >= 0, got {self.claim_margin_m}")


def load_demo_config(out: Path, overrides: Sequence[str] = ()) -> DemoConfig:
    """``DemoConfig`` defaults, overridden by ``config/demo.yaml`` (hydra) and then by ``overrides``."""
    from hydra import compose, initialize_config_dir  # noqa: PLC0415
    from omegaconf import OmegaConf  # noqa: PLC0415

    config_dir = _REPO_ROOT / "config"
    base = OmegaConf.structured(DemoConfig(out=out))
    if (config_dir / "demo.yaml").is_file():
        with initialize_config_dir(config_dir=str(config_dir), version_base=None):
            loaded = compose(config_name="demo", overrides=list(overrides))
    elif overrides:
        loaded = OmegaConf.from_dotlist(list(overrides))
    else:
        loaded = OmegaConf.create({})
    try:
        merged = OmegaConf.merge(base, loaded, {"out": str(out)})
    except Exception as exc:  # omegaconf raises several types for bad keys and values
        raise InputError("demo overrides", str(exc).splitlines()[0]) from None
    config = OmegaConf.to_object(merged)
    config.out = Path(config.out)
    config.assets = Path(config.assets)
    return config


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


def run_demo(config: DemoConfig, *, console: Any | None = None) -> Path:
    """Build the twin and write the report; returns the report's path."""
    from rich.progress import Progress  # noqa: PLC0415

    from splattwin.io import read_gaussians  # noqa: PLC0415
    from splattwin.pipelines._common import local_to_world  # noqa: PLC0415
    from splattwin.reporting import save_splat_previews  # noqa: PLC0415
    from splattwin.usd import describe_twin, open_twin, read_gaussians_prim, validate_stage  # noqa: PLC0415

    config.validate()
    capture = _capture(config)
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    stage = out / config.stage_name
    # The demo rebuilds its own twin from scratch; it touches nothing else in ``out``.
    stage.unlink(missing_ok=True)
    shutil.rmtree(stage.with_name(f"{stage.stem}_layers"), ignore_errors=True)
    (out / "resolved_config.json").write_text(json.dumps(asdict(config), indent=2, default=str))

    timings: dict[str, float] = {}
    steps = [
        "import splat",
        "import scene mesh",
        "import object",
        "align",
        "claim object Gaussians",
        "robot",
        "validate",
    ]
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
        raw = read_gaussians(capture.splat)
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
        step(steps[5])
        robot_section = _robot_step(config, stage, aligned.total)
        progress.advance(task)
        step(steps[6])
        twin = open_twin(stage)
        issues = validate_stage(twin.stage)
        description = describe_twin(twin)
        progress.advance(task)
    ordered = list(timings.items()) + [("end", time.perf_counter())]
    durations = {name: ordered[i + 1][1] - t for i, (name, t) in enumerate(ordered[:-1])}

    images = []
    if config.previews:
        world_views = []
        for prim_path in (config.splat_prim, f"{config.object_prim}/Gaussians", *_robot_gaussian_prims(twin)):
            prim = twin.stage.GetPrimAtPath(prim_path)
            if prim:
                world_views.append(local_to_world(prim).apply_gaussians(read_gaussians_prim(prim)))
        from splattwin.gaussians import Gaussians  # noqa: PLC0415

        world = Gaussians.concatenate(world_views)
        images.append(
            save_splat_previews(
                out / "previews.png",
                [("as captured (reconstruction frame)", raw), ("aligned twin (world: z up, metres)", world)],
            )
        )
    body = next(b for b in description["bodies"] if b["prim"] == config.object_prim)
    table_step = next((s for s in aligned.record["steps"] if s["name"] == "table"), None)
    report = {
        "stage": str(stage),
        "splat": {"prim": splat.prim, "count": splat.count, "sh_degree": splat.sh_degree},
        "object": {
            "prim": block.prim,
            "mass_kg": body["mass_kg"],  # after alignment: the import saw reconstruction units
            "mass_kind": block.mass_kind,
            "claimed_gaussians": claimed,
            "mesh_report": block.report,
        },
        "alignment": {
            "scale": aligned.applied.scale,
            "matrix": aligned.applied.matrix().tolist(),
            "steps": [s["name"] for s in aligned.record["steps"]],
            "table_tilt_corrected_deg": None if table_step is None else table_step["tilt_deg"],
            "table_fit_rmse_m": None if table_step is None else table_step["rmse"] * aligned.applied.scale,
        },
        "robot": robot_section,
        "validation": {"errors": sum(i.severity == "Error" for i in issues), "findings": [i.__dict__ for i in issues]},
        "timings_s": durations,
        "description": description,
        "images": [str(p.name) for p in images],
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, default=_json_default))
    report_path = out / "report.md"
    report_path.write_text(_markdown(report, capture))
    return report_path


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


def _robot_gaussian_prims(twin: Any) -> list[str]:
    from splattwin.robot import find_robots  # noqa: PLC0415

    links = [link for root in find_robots(twin.stage) for link in twin.stage.GetPrimAtPath(root).GetChildren()]
    return [f"{link.GetPath()}/Gaussians" for link in links if link.GetChild("Gaussians")]


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
        f"- Object `{obj['prim']}`: mass {obj['mass_kg']:.4g} kg ({obj['mass_kind']}: volume x density of "
        f"{capture.object_material}), watertight={obj['mesh_report']['watertight']}.",
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
    lines += [
        "## OpenUSD validation",
        f"- {report['validation']['errors']} error(s), {len(report['validation']['findings'])} finding(s) in all.",
        "",
        "## Timings",
        *[f"- {name}: {seconds:.2f} s" for name, seconds in report["timings_s"].items()],
        "",
    ]
    lines += [f"![{name}]({name})" for name in report["images"]]
    return "\n".join(lines) + "\n"


def run_demo_from_cli(out: Path, overrides: Sequence[str], *, console: Any | None = None) -> Path:
    """Entry of ``splattwin demo``: load the configuration, run, return the report path."""
    return run_demo(load_demo_config(out, overrides), console=console)
