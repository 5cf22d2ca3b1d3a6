"""Human-facing presentation: rich tables for ``splattwin inspect``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["print_description"]


def print_description(description: dict[str, Any], issues: Sequence[Any] | None, *, console: Any) -> None:
    """Print what :func:`splattwin.usd.describe_twin` returned (and validator findings) as rich tables."""
    console.print(
        f"[bold]{description['stage']}[/bold]  upAxis={description['up_axis']}  "
        f"metersPerUnit={description['meters_per_unit']}  kilogramsPerUnit={description['kilograms_per_unit']}  "
        f"defaultPrim={description['default_prim']}"
    )
    layers = _table("layers (strongest first)", ("layer", "file", "bytes", "prim specs", "holds"))
    holds: dict[str, list[str]] = {}
    for kind in ("splats", "meshes", "bodies", "cameras"):
        for item in description.get(kind, []):
            holds.setdefault(item["layer"], []).append(item["prim"])
    for layer in description["layers"]:
        layers.add_row(
            layer["name"],
            Path(layer["file"]).name,
            f"{layer['bytes']:,}",
            str(layer["prim_specs"]),
            "\n".join(sorted(set(holds.get(layer["name"], [])))) or "-",
        )
    console.print(layers)
    if description["splats"]:
        table = _table("Gaussian splats", ("prim", "layer", "count", "SH degree", "extent min", "extent max"))
        for item in description["splats"]:
            lo, hi = item["extent"] or ([float("nan")] * 3, [float("nan")] * 3)
            table.add_row(item["prim"], item["layer"], f"{item['count']:,}", str(item["sh_degree"]), _vec(lo), _vec(hi))
        console.print(table)
    if description["meshes"]:
        table = _table("meshes", ("prim", "layer", "points", "faces", "collider", "approximation", "material"))
        for item in description["meshes"]:
            table.add_row(
                item["prim"],
                item["layer"],
                str(item["points"]),
                str(item["faces"]),
                str(item["collider"]),
                str(item["approximation"]),
                str(item["material"]),
            )
        console.print(table)
    if description["bodies"]:
        table = _table("rigid bodies", ("prim", "mass [kg]", "kind", "method", "mass from layer", "position [m]"))
        for item in description["bodies"]:
            provenance = item["mass_provenance"] or {}
            mass = "-" if item["mass_kg"] is None else f"{item['mass_kg']:.4g}"
            if provenance.get("kind") == "identified" and provenance.get("uncertaintyKg") not in (None, ""):
                mass += f" ± {float(provenance['uncertaintyKg']):.2g} (identified, 1σ)"
            elif provenance.get("relativeUncertainty"):
                mass += f" ± {100 * provenance['relativeUncertainty']:.0f}%"
            table.add_row(
                item["prim"],
                mass,
                str(provenance.get("kind", "-")),
                str(provenance.get("method", "-")),
                str(item["mass_layer"]),
                _vec(item["position"]),
            )
        console.print(table)
    if description.get("cameras"):
        table = _table("cameras", ("prim", "layer", "size [px]", "fx, fy [px]", "cx, cy [px]", "position [m]", "note"))
        for item in description["cameras"]:
            K = item["K"]  # noqa: N806
            distortion = ", ".join(sorted(item["distortion"] or {}))
            note = item["problem"] or (f"distortion: {distortion}" if distortion else "-")
            table.add_row(
                item["prim"],
                item["layer"],
                "-" if item["width"] is None else f"{item['width']}x{item['height']}",
                "-" if K is None else f"{K[0][0]:.2f}, {K[1][1]:.2f}",
                "-" if K is None else f"{K[0][2]:.2f}, {K[1][2]:.2f}",
                _vec(item["position"]),
                note,
            )
        console.print(table)
    _print_frames(description, console)
    if issues is not None:
        if not issues:
            console.print("[green]OpenUSD validators: no findings[/green]")
        for issue in issues:
            console.print(f"[red]{issue.severity}[/red] {issue.validator}: {issue.message} {list(issue.sites)}")


def _print_frames(description: dict[str, Any], console: Any) -> None:
    """The twin's frame (aligned or not, table fit) and each imported prim's frame state (docs/frames.md)."""
    alignment = description["alignment"]
    if alignment:
        matrix = np.asarray(alignment["matrix"])
        composed = f", composed {alignment['composed']} time(s)" if alignment.get("composed") else ""
        console.print(
            f"frame: aligned (world <- reconstruction), scale {alignment['scale']:.6g}, "
            f"steps {' -> '.join(alignment['steps'])}{composed}",
            highlight=False,
        )
        fit = alignment.get("table_fit")
        if fit:
            rmse = f"{1000 * fit['rmse']:.2f} mm" if alignment.get("scale_applied") else f"{fit['rmse']:.4g} units"
            console.print(
                f"table fit: tilt {fit['tilt_deg']:.3f} deg corrected, RMSE {rmse}, {fit['inliers']:,} inliers "
                f"({100 * fit['inlier_fraction']:.1f}%)",
                highlight=False,
            )
        console.print(np.array2string(matrix, precision=5, suppress_small=True))
    elif description.get("twin", True):
        console.print("frame: not aligned (content in the reconstruction frame, as imported)")
    framed = [item for kind in ("splats", "meshes", "bodies") for item in description[kind] if item.get("frame")]
    if not framed:
        return
    table = _table("frame state of imported prims", ("prim", "now in", "imported into", "import-time", "source"))
    table.caption = "recon: the reconstruction frame; aligned: the twin's world (docs/frames.md)"
    short = {"reconstruction": "recon"}
    seen = set()
    for item in framed:
        if item["prim"] in seen:
            continue
        seen.add(item["prim"])
        frame = item["frame"]
        change = f"up {frame['import_up_axis']}, x{frame['import_scale']:g}" + (", metric" if frame["metric"] else "")
        table.add_row(
            item["prim"],
            short.get(frame["state"], frame["state"]),
            short.get(frame["imported_in"], frame["imported_in"]),
            change,
            Path(frame["source"]).name,
        )
    console.print(table)


def _table(title: str, columns: Sequence[str]) -> Any:
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=title)
    for index, column in enumerate(columns):
        # The first column holds prim paths: folded, never cut with an ellipsis.
        table.add_column(column, overflow="fold" if index == 0 else "ellipsis")
    return table


def _vec(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in values) + ")"
