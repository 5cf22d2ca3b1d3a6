"""``splattwin demo``: build the sample tabletop twin from ``usd_assets/`` end to end and write a report.

Steps: import the reconstruction (a y-up, off-scale, tilted splat and meshes, as SfM/2DGS deliver them) into a
new twin; align it (up axis, metric scale from a measured distance, gravity from the fitted table plane, origin
at the robot base) with the measurements in ``capture.json``; hand the object its Gaussians; run OpenUSD's
validators; write ``report.md`` / ``report.json`` with preview images. Later stages (robot, identification,
rendering, tasks) extend it.

The demo owns its output folder: it marks a folder it builds (``.splattwin-demo.json``, with the twin's file
hashes once it is complete) and rebuilds a marked folder on the next run without asking, so ``make demo`` can be
run again, also after an interrupted run. A folder holding a twin the demo did not build, or its own twin edited
since, is refused unless ``--force``. The defaults of :class:`DemoConfig` are overridden by the package's
``config/demo.yaml`` (package data found through :mod:`importlib.resources`; the repository's top-level
``config/demo.yaml`` links to it) and then by the command line's ``key=value`` items.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.resources
import json
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import splattwin
from splattwin.errors import InputError, Interrupted
from splattwin.io import atomic_output, write_json
from splattwin.pipelines.align import AlignConfig, align_twin
from splattwin.pipelines.claim import ClaimConfig, claim_gaussians
from splattwin.pipelines.importing import ImportMeshConfig, ImportSplatConfig, import_mesh, import_splat
from splattwin.pipelines.robot import RobotDemoConfig, robot_report_lines

__all__ = [
    "DEMO_MARK",
    "DemoConfig",
    "check_out_folder",
    "demo_config_file",
    "load_demo_config",
    "run_demo",
    "run_demo_from_cli",
]

DEMO_MARK = ".splattwin-demo.json"
"""The file marking an output folder as the demo's own (what it built, whether it finished)."""
_SAMPLE = Path("usd_assets") / "tabletop"


def _default_assets() -> Path:
    """``usd_assets/tabletop`` under the working folder (the repository root, where ``make demo`` runs), else the
    source checkout's when the package is imported from one (an editable install run from elsewhere)."""
    if (_SAMPLE / "capture.json").is_file():
        return _SAMPLE
    checkout = Path(splattwin.__file__).resolve().parents[3] / _SAMPLE
    return checkout if (checkout / "capture.json").is_file() else _SAMPLE


@contextlib.contextmanager
def demo_config_file() -> Iterator[Path]:
    """The default ``config/demo.yaml``, shipped as package data (a real file for the ``with`` block's duration,
    also from a zipped install)."""
    with importlib.resources.as_file(importlib.resources.files("splattwin") / "config" / "demo.yaml") as path:
        yield path


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
        splat_object: also make the object from the splat alone (``extract-mesh`` in a box around it, before its
            Gaussians are claimed) and compare that mesh with the imported one (section "Object from the splat
            alone"; docs/surfaces.md).
        splat_object_prim: where that object is authored (deactivated: see :func:`_splat_object_step`).
        splat_object_voxel_m: its TSDF voxel; the sample splat holds about 9 mm^2 of surface per Gaussian on
            the block (3,000 Gaussians), so finer voxels see the gaps between them.
        robot: the robot step (:class:`~splattwin.pipelines.robot.RobotDemoConfig`).
    """

    out: Path = Path("out/demo")
    assets: Path = field(default_factory=_default_assets)
    stage_name: str = "twin.usda"
    splat_prim: str = "/World/Scene/Splat"
    scene_prim: str = "/World/Scene/Static"
    object_prim: str = "/World/Objects/Block"
    table: str = "auto"
    claim_margin_m: float = 0.005
    previews: bool = True
    identify: bool = True
    splat_object: bool = True
    splat_object_prim: str = "/World/Objects/BlockFromSplat"
    splat_object_voxel_m: float = 0.006
    robot: RobotDemoConfig = field(default_factory=RobotDemoConfig)

    def validate(self) -> None:
        """Check the options that need no file access."""
        if not (self.assets / "capture.json").is_file():
            raise InputError(self.assets / "capture.json", "missing: the demo needs the sample capture")
        if self.claim_margin_m < 0:
            raise InputError("claim_margin_m", f"must be >= 0, got {self.claim_margin_m}")
        if not self.splat_object_voxel_m > 0:
            raise InputError("splat_object_voxel_m", f"must be > 0 metres, got {self.splat_object_voxel_m}")


def load_demo_config(out: Path, overrides: Sequence[str] = ()) -> DemoConfig:
    """``DemoConfig`` defaults, overridden by the package's ``config/demo.yaml`` and then by ``overrides``.

    Raises:
        InputError: an override that is not ``key=value``, names an unknown key (the nearest is suggested) or
            has a value of the wrong type; one line each.
    """
    from splattwin.overrides import parse_overrides  # noqa: PLC0415

    with demo_config_file() as defaults:
        config = parse_overrides(
            DemoConfig,
            overrides,
            defaults=defaults if defaults.is_file() else None,
            fixed={"out": str(out)},
            flags={"out": "give the output folder with --out, not as an override"},
            label="demo override",
            example="claim_margin_m=0.01",
        )
    config.out = Path(config.out)
    config.assets = Path(config.assets)
    return config


def _twin_files(config: DemoConfig) -> list[Path]:
    stage = config.out / config.stage_name
    layers = stage.with_name(f"{stage.stem}_layers")
    return [stage, *sorted(p for p in layers.rglob("*") if p.is_file())] if layers.is_dir() else [stage]


def _twin_hashes(config: DemoConfig) -> dict[str, str]:
    return {
        str(p.relative_to(config.out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in _twin_files(config)
        if p.is_file()
    }


def _read_mark(out: Path) -> dict[str, Any] | None:
    try:
        mark = json.loads((out / DEMO_MARK).read_text())
    except (OSError, ValueError):
        mark = None
    if isinstance(mark, dict) and mark.get("made_by") == "splattwin demo":
        return mark
    # A folder built before the demo marked its folders: its report and resolved config say the demo made it.
    report = out / "report.md"
    if (out / "resolved_config.json").is_file() and report.is_file():
        with report.open() as text:
            if text.readline().startswith("# SplatTwin demo report"):
                return {"made_by": "splattwin demo", "complete": False}
    return None


def _write_mark(config: DemoConfig, *, complete: bool) -> None:
    mark = {"made_by": "splattwin demo", "version": splattwin.__version__, "complete": complete}
    if complete:
        mark["twin_sha256"] = _twin_hashes(config)
    write_json(config.out / DEMO_MARK, mark)


def check_out_folder(config: DemoConfig, *, overwrite: bool) -> None:
    """Refuse an ``out`` folder holding a twin the demo would replace but may not, unless ``overwrite``.

    The demo's own folder (marked) is rebuilt: after a finished run whose twin nobody edited since, and after an
    interrupted run (its twin is partial). Refused: a twin the demo did not build, or the demo's twin edited
    since it finished (its files no longer hash as the demo left them).
    """
    stage = config.out / config.stage_name
    layers = stage.with_name(f"{stage.stem}_layers")
    if overwrite or not (stage.exists() or layers.exists()):
        return
    mark = _read_mark(config.out)
    if mark is None:
        raise InputError(
            config.out,
            f"already holds a twin ({stage.name}) the demo did not build; give --force to replace it, or another --out",
        )
    if mark.get("complete"):
        recorded, now = mark.get("twin_sha256") or {}, _twin_hashes(config)
        changed = sorted(name for name in set(recorded) | set(now) if recorded.get(name) != now.get(name))
        if changed:
            raise InputError(
                config.out,
                f"already holds the demo's twin, edited since the demo built it ({', '.join(changed[:3])}); "
                "give --force to rebuild it, or another --out",
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
            ``--force`` does); a folder the demo marked as its own is rebuilt either way
            (:func:`check_out_folder`).

    Raises:
        Interrupted: Ctrl-C after the folder was marked: what is left (the demo's partial twin) and how to go on.
    """
    config.validate()
    check_out_folder(config, overwrite=overwrite)
    capture = _capture(config)
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    # Marked before the old twin goes: from here on the folder is the demo's, so an interrupted run is rebuilt by
    # the next one without --force.
    _write_mark(config, complete=False)
    try:
        report_path = _build(config, capture, console=console)
    except KeyboardInterrupt:
        raise Interrupted(
            f"{out} holds a partial demo twin (marked as the demo's); `splattwin demo --out {out}` rebuilds it"
        ) from None
    _write_mark(config, complete=True)
    return report_path


def _build(config: DemoConfig, capture: _Capture, *, console: Any | None) -> Path:
    """The demo's steps, into the marked folder ``config.out``; returns the report's path."""
    from rich.progress import Progress  # noqa: PLC0415

    from splattwin.usd import describe_twin, open_twin, validate_stage  # noqa: PLC0415

    out = config.out
    stage = out / config.stage_name
    # The demo rebuilds its own twin from scratch, and drops the report of the last one (it would describe a twin
    # that is gone if this run is interrupted); it touches nothing else in ``out``.
    stage.unlink(missing_ok=True)
    shutil.rmtree(stage.with_name(f"{stage.stem}_layers"), ignore_errors=True)
    for name in ("report.md", "report.json"):
        (out / name).unlink(missing_ok=True)
    write_json(out / "resolved_config.json", asdict(config))

    timings: dict[str, float] = {}
    steps = ["import splat", "import scene mesh", "import object", "align", "claim object Gaussians"]
    if config.splat_object:
        steps.insert(4, "object from the splat alone")
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
        splat_object = None
        if config.splat_object:
            step("object from the splat alone")
            splat_object = _splat_object_step(config, stage)
            progress.advance(task)
        step("claim object Gaussians")
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
    if splat_object is not None:
        report["splat_object"] = splat_object
    write_json(out / "report.json", report)
    report_path = out / "report.md"
    markdown = _markdown(report, capture)
    if "identification" in report:
        markdown += _identification_markdown(report["identification"])
    with atomic_output(report_path) as temporary:
        temporary.write_text(markdown)
    return report_path


_SPLAT_OBJECT_BOX_MARGIN_M = 0.02
"""The box drawn around the object for the splat-only extraction: its imported mesh's bounds grown by this."""


def _splat_object_step(config: DemoConfig, stage: Path) -> dict[str, Any]:
    """The object made from the splat alone (issue 21), compared with the imported mesh.

    The box around it stands in for the box a user draws (``extract-mesh --region``): the imported mesh's bounds
    grown by :data:`_SPLAT_OBJECT_BOX_MARGIN_M`; the surface itself comes from the scene's Gaussians only. The
    extracted body is authored and then deactivated: active, its collider would overlap the imported block and
    be found as the block's "table" by the tasks' scene reader, and the renders would draw it over the block.
    ``usdview`` / the stage editor shows it after activating the prim.
    """
    import trimesh  # noqa: PLC0415
    from pxr import Usd, UsdGeom  # noqa: PLC0415

    from splattwin.pipelines.extract import ExtractMeshConfig, extract_mesh  # noqa: PLC0415
    from splattwin.surfaces.metrics import compare_surfaces  # noqa: PLC0415
    from splattwin.usd import open_twin  # noqa: PLC0415
    from splattwin.usd.identified import read_collision_mesh  # noqa: PLC0415
    from splattwin.usd.stage import edit_twin  # noqa: PLC0415

    def world_mesh(usd: Usd.Stage, prim_path: str) -> trimesh.Trimesh:
        vertices, faces = read_collision_mesh(usd, prim_path)
        to_world = UsdGeom.Xformable(usd.GetPrimAtPath(prim_path)).ComputeLocalToWorldTransform(Usd.TimeCode.Default())
        matrix = np.array(to_world, dtype=np.float64).T  # Gf matrices are row-vector convention
        return trimesh.Trimesh(vertices @ matrix[:3, :3].T + matrix[:3, 3], faces, process=False)

    imported = world_mesh(open_twin(stage).stage, config.object_prim)
    lo, hi = imported.bounds[0] - _SPLAT_OBJECT_BOX_MARGIN_M, imported.bounds[1] + _SPLAT_OBJECT_BOX_MARGIN_M
    started = time.perf_counter()
    result = extract_mesh(
        ExtractMeshConfig(
            stage=stage,
            splat=config.splat_prim,
            prim=config.splat_object_prim,
            region=(tuple(lo.tolist()), tuple(hi.tolist())),
            voxel=config.splat_object_voxel_m,
            # The sample splat is sparse: with a 1-voxel band, rays slipping between its Gaussians carve the block.
            band_voxels=2.0,
            dynamic=True,
        )
    )
    seconds = time.perf_counter() - started
    extracted = world_mesh(open_twin(stage).stage, config.splat_object_prim)
    with edit_twin(stage, create=False) as twin, twin.edit_layer(result.layer):
        prim = twin.stage.GetPrimAtPath(config.splat_object_prim)
        prim.SetActive(False)
    comparison = compare_surfaces(extracted, imported)
    return {
        "prim": config.splat_object_prim,
        "active": False,
        "box_min": lo.tolist(),
        "box_max": hi.tolist(),
        "voxel_m": config.splat_object_voxel_m,
        "views": result.provenance["views"],
        "gaussians": result.provenance["gaussians"],
        "faces": int(len(extracted.faces)),
        "mass_prior_kg": result.mass_kg,
        "seconds": seconds,
        "comparison": comparison.to_dict(),
    }


def _splat_object_markdown(section: dict[str, Any] | None) -> list[str]:
    if section is None:
        return []
    c = section["comparison"]
    return [
        "",
        "## Object from the splat alone",
        f"- `{section['prim']}` (deactivated; activate it in the stage to use it): extracted from "
        f"{section['gaussians']:,} scene Gaussians in a box around the block, {1000 * section['voxel_m']:.0f} mm "
        f"voxels, {section['views']} views, {section['faces']:,} faces, {section['seconds']:.1f} s.",
        "",
        "| against the imported mesh | value |",
        "| --- | --- |",
        f"| Chamfer | {1000 * c['chamfer_m']:.2f} mm |",
        f"| F-score at {1000 * c['threshold_m']:.0f} mm | {c['fscore']:.3f} |",
        f"| MSE | {1e6 * c['mse_m2']:.2f} mm^2 |",
        f"| volume | {1e6 * c['volume_m3']:.1f} cm^3 vs {1e6 * c['reference_volume_m3']:.1f} cm^3 "
        f"({100 * c['volume_error']:+.2f} %) |",
        f"| mass prior (volume x density) | {section['mass_prior_kg']:.4f} kg |",
    ]


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
                overwrite=True,  # the demo's own folder (check_out_folder): its earlier report is replaced
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
    # The demo's own folder: its earlier export is replaced (check_out_folder decided the folder is the demo's).
    exported = export_trajectory(stage, config.robot.prim, out / "trajectory_50hz.csv", rate_hz=50.0, overwrite=True)
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
    lines += _splat_object_markdown(report.get("splat_object"))
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
    return run_demo(config, console=console, overwrite=force)
