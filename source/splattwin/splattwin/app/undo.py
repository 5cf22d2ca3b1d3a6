"""Snapshots of a twin's layers for undo: the Kit commands take one before an edit and restore it on Ctrl+Z.

A snapshot is each layer's content as text (``Sdf.Layer.ExportToString``); restoring parses the text and
transfers it into the layers (``TransferContent``) and saves them through :func:`splattwin.usd.edit_twin`, so the
undo is on disk and atomic like any edit, and the in-process layers Kit composes change in place.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["restore_twin", "snapshot_twin"]


def snapshot_twin(stage: Path) -> dict[str, str] | None:
    """Layer name (``root`` and every sublayer) -> its content; None when no twin exists at ``stage`` yet."""
    from splattwin.usd.stage import open_twin  # noqa: PLC0415

    if not Path(stage).exists():
        return None
    twin = open_twin(stage)
    snapshot = {name: layer.ExportToString() for name, layer in twin.layers.items()}
    snapshot["root"] = twin.root_layer.ExportToString()
    return snapshot


def restore_twin(stage: Path, snapshot: dict[str, str]) -> list[str]:
    """Put every layer back as in ``snapshot``; returns the names of the layers that changed."""
    from pxr import Sdf  # noqa: PLC0415

    from splattwin.usd.stage import edit_twin  # noqa: PLC0415

    changed = []
    with edit_twin(stage, create=False) as twin:
        layers = {"root": twin.root_layer, **twin.layers}
        for name, text in snapshot.items():
            if layers[name].ExportToString() != text:
                # Parsed as .usda first: ImportFromString on a .usdc layer would expect crate bytes.
                parsed = Sdf.Layer.CreateAnonymous(".usda")
                if not parsed.ImportFromString(text):
                    raise ValueError(f"the undo snapshot of the {name} layer does not parse")
                layers[name].TransferContent(parsed)
                changed.append(name)
    return changed
