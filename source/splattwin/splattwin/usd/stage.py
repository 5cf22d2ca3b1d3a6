"""The twin: one root stage composing one sublayer per concern, edited in memory and saved atomically.

Layout on disk for ``--stage out/twin.usda``::

    out/twin.usda                      root: stage metadata, /World, the sublayer list; a person's edits go here
    out/twin_layers/trajectories.usda  time-sampled joint targets and object poses (strongest sublayer)
    out/twin_layers/physics.usda       identified parameters, stronger than what imports wrote
    out/twin_layers/robot.usdc         the robot articulation and its per-link Gaussians
    out/twin_layers/objects.usdc       dynamic rigid objects with their collision meshes and Gaussians
    out/twin_layers/scene.usdc         background Gaussians, static collision meshes, the physics scene

Every import writes only its own layer, so re-importing never clobbers what a person edited in the root layer
or what identification wrote into ``physics.usda``. An edit session either saves every layer it changed (each
written to a temporary file first, then all renamed into place) or, on any error, leaves the files untouched.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from splattwin.errors import StageError

if TYPE_CHECKING:
    from pxr import Sdf, Usd

__all__ = [
    "LAYER_NAMES",
    "USD_SUFFIXES",
    "WORLD_PATH",
    "TwinStage",
    "edit_twin",
    "layers_dir",
    "open_twin",
    "open_usd_stage",
]

LAYER_NAMES = ("trajectories", "physics", "robot", "objects", "scene")
"""Sublayers of a twin, strongest opinion first (the order of ``subLayerPaths``)."""

_LAYER_SUFFIX = {"trajectories": ".usda", "physics": ".usda", "robot": ".usdc", "objects": ".usdc", "scene": ".usdc"}
USD_SUFFIXES = (".usd", ".usda", ".usdc")
WORLD_PATH = "/World"
PHYSICS_SCENE_PATH = "/World/PhysicsScene"
GRAVITY_M_S2 = 9.81


def layers_dir(root: str | Path) -> Path:
    """Folder holding the sublayers of the twin whose root layer is ``root``."""
    root = Path(root)
    return root.with_name(f"{root.stem}_layers")


def _relative_sublayer(root: Path, name: str) -> str:
    return f"./{layers_dir(root).name}/{name}{_LAYER_SUFFIX[name]}"


def open_usd_stage(path: str | Path) -> Usd.Stage:
    """Open any USD file as a stage, turning OpenUSD's errors into a :class:`StageError` naming the file."""
    from pxr import Tf, Usd  # noqa: PLC0415

    path = Path(path)
    if not path.is_file():
        raise StageError(path, "no such USD file")
    if path.suffix not in USD_SUFFIXES:
        raise StageError(path, f"is not a USD file (suffix {path.suffix!r}, expected one of {USD_SUFFIXES})")
    try:
        return Usd.Stage.Open(str(path.resolve()))
    except Tf.ErrorException as exc:
        detail = str(exc).strip().splitlines()[-1].split(" : ")[-1].strip(" '")
        raise StageError(path, f"exists but is not a readable USD layer ({detail})") from None


def _set_stage_metadata(layer: Sdf.Layer) -> None:
    layer.pseudoRoot.SetInfo("upAxis", "Z")
    layer.pseudoRoot.SetInfo("metersPerUnit", 1.0)
    layer.pseudoRoot.SetInfo("kilogramsPerUnit", 1.0)


@dataclass
class TwinStage:
    """An open twin: the composed stage plus its named sublayers.

    Attributes:
        root_path: the root layer's file.
        stage: the composed ``Usd.Stage``; author through :meth:`edit_layer` so each write lands in its layer.
        layers: name -> ``Sdf.Layer`` for every entry of :data:`LAYER_NAMES`.
    """

    root_path: Path
    stage: Usd.Stage
    layers: dict[str, Sdf.Layer]
    _new_layers: set[str] = field(default_factory=set)

    @property
    def root_layer(self) -> Sdf.Layer:
        """The root layer (stage metadata, /World and a person's own edits)."""
        return self.stage.GetRootLayer()

    def layer_path(self, name: str) -> Path:
        """File of the named sublayer."""
        return layers_dir(self.root_path) / f"{name}{_LAYER_SUFFIX[name]}"

    @contextlib.contextmanager
    def edit_layer(self, name: str) -> Iterator[Usd.Stage]:
        """Author into one sublayer: ``with twin.edit_layer("scene") as stage: ...``."""
        from pxr import Usd  # noqa: PLC0415

        if name not in self.layers:
            raise ValueError(f"unknown twin layer {name!r}; expected one of {LAYER_NAMES}")
        with Usd.EditContext(self.stage, self.layers[name]):
            yield self.stage

    def layer_of(self, prim_path: str) -> str | None:
        """Name of the strongest sublayer holding a spec for ``prim_path`` (None: root layer or nowhere)."""
        for name in LAYER_NAMES:
            if self.layers[name].GetPrimAtPath(prim_path):
                return name
        return None

    def save(self) -> list[Path]:
        """Write every changed layer atomically; returns the files written."""
        from splattwin.io import atomic_output  # noqa: PLC0415

        pending: list[tuple[Sdf.Layer, Path]] = []
        if self.root_layer.dirty or "root" in self._new_layers:
            pending.append((self.root_layer, self.root_path))
        for name, layer in self.layers.items():
            if layer.dirty or name in self._new_layers:
                pending.append((layer, self.layer_path(name)))
        created_dir = not layers_dir(self.root_path).exists()
        layers_dir(self.root_path).mkdir(parents=True, exist_ok=True)
        try:
            with contextlib.ExitStack() as stack:
                for layer, path in pending:
                    tmp = stack.enter_context(atomic_output(path))
                    if not layer.Export(str(tmp)):
                        raise StageError(path, "OpenUSD could not write this layer")
        except BaseException:
            if created_dir:
                shutil.rmtree(layers_dir(self.root_path), ignore_errors=True)
            raise
        self._new_layers.clear()
        return [path for _, path in pending]

    def discard(self) -> None:
        """Drop unsaved edits so the in-memory layers match the files again."""
        for name, layer in [("root", self.root_layer), *self.layers.items()]:
            if name not in self._new_layers and layer.dirty:
                layer.Reload(force=True)


def _new_twin(root: Path) -> TwinStage:
    from pxr import Sdf, Usd, UsdGeom, UsdPhysics  # noqa: PLC0415

    import splattwin  # noqa: PLC0415

    root = root.resolve()
    root_layer = Sdf.Layer.New(Sdf.FileFormat.FindByExtension(root.suffix.lstrip(".") or "usda"), str(root))
    _set_stage_metadata(root_layer)
    layers = {}
    for name in LAYER_NAMES:
        path = layers_dir(root) / f"{name}{_LAYER_SUFFIX[name]}"
        layer = Sdf.Layer.New(Sdf.FileFormat.FindByExtension(_LAYER_SUFFIX[name].lstrip(".")), str(path))
        _set_stage_metadata(layer)
        layer.comment = f"SplatTwin {name} layer of {root.name}"
        layers[name] = layer
        root_layer.subLayerPaths.append(_relative_sublayer(root, name))
    root_layer.customLayerData = {"splattwin": {"version": splattwin.__version__, "layers": ", ".join(LAYER_NAMES)}}
    stage = Usd.Stage.Open(root_layer)
    world = UsdGeom.Xform.Define(stage, WORLD_PATH)
    stage.SetDefaultPrim(world.GetPrim())
    twin = TwinStage(root_path=root, stage=stage, layers=layers, _new_layers={"root", *LAYER_NAMES})
    with twin.edit_layer("scene") as edit:
        UsdGeom.Xform.Define(edit, WORLD_PATH)
        scene = UsdPhysics.Scene.Define(edit, PHYSICS_SCENE_PATH)
        scene.CreateGravityDirectionAttr().Set((0.0, 0.0, -1.0))
        scene.CreateGravityMagnitudeAttr().Set(GRAVITY_M_S2)
    return twin


def open_twin(path: str | Path) -> TwinStage:
    """Open an existing twin (read or edit); :class:`StageError` if it is missing, not USD or not a twin."""
    root = Path(path)
    stage = open_usd_stage(root)
    data = stage.GetRootLayer().customLayerData.get("splattwin")
    if not data:
        raise StageError(root, "is a USD stage but not a SplatTwin twin (no 'splattwin' customLayerData)")
    found = {}
    by_id = {layer.identifier: layer for layer in stage.GetLayerStack(includeSessionLayers=False)}
    for name in LAYER_NAMES:
        wanted = str(layers_dir(root.resolve()) / f"{name}{_LAYER_SUFFIX[name]}")
        if wanted not in by_id:
            raise StageError(root, f"its {name} sublayer {wanted} is missing or unreadable")
        found[name] = by_id[wanted]
    return TwinStage(root_path=root.resolve(), stage=stage, layers=found)


@contextlib.contextmanager
def edit_twin(path: str | Path, *, create: bool = True) -> Iterator[TwinStage]:
    """Open (or create) a twin for editing; save atomically on success, discard every edit on error.

    Args:
        path: the root layer file (``.usda``, ``.usdc`` or ``.usd``).
        create: make a new twin when ``path`` does not exist.

    Raises:
        StageError: ``path`` exists but is not a USD twin, or does not exist and ``create`` is False.
    """
    root = Path(path)
    if root.exists():
        twin = open_twin(root)
    elif not create:
        raise StageError(root, "no such twin stage")
    elif root.suffix not in USD_SUFFIXES:
        raise StageError(root, f"a twin stage must be a USD file ({', '.join(USD_SUFFIXES)}), got {root.suffix!r}")
    elif layers_dir(root).exists():
        raise StageError(root, f"does not exist but {layers_dir(root)} does; remove it or pick another stage path")
    else:
        root.parent.mkdir(parents=True, exist_ok=True)
        twin = _new_twin(root)
    try:
        yield twin
    except BaseException:
        twin.discard()
        raise
    twin.save()
