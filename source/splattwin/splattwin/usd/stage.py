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

Concurrency (see docs/guarantees.md): every edit is a transaction under the twin's inter-process edit lock
(:mod:`splattwin.usd.locking`): :func:`edit_twin` takes the lock, only then reads the layers (fresh from disk),
lets the caller author, saves and releases, so concurrent edits of one twin serialise and none is lost. A
:class:`TwinStage` remembers which version of each file it read (inode, size, mtime); :meth:`TwinStage.save` on a
handle that has been open for a while takes the lock too and refuses, naming the files, when another process saved
any of them since (:meth:`TwinStage.reload` re-reads them).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from splattwin.errors import StageError
from splattwin.usd.locking import twin_lock

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

logger = logging.getLogger(__name__)

LAYER_NAMES = ("trajectories", "physics", "robot", "objects", "scene")
"""Sublayers of a twin, strongest opinion first (the order of ``subLayerPaths``)."""

_LAYER_SUFFIX = {"trajectories": ".usda", "physics": ".usda", "robot": ".usdc", "objects": ".usdc", "scene": ".usdc"}
USD_SUFFIXES = (".usd", ".usda", ".usdc")
WORLD_PATH = "/World"
PHYSICS_SCENE_PATH = "/World/PhysicsScene"
GRAVITY_M_S2 = 9.81

_FileVersion = tuple[int, int, int] | None
"""(inode, size [bytes], mtime [ns]) of a file, or None when it does not exist. Every save renames a new file over
the old one, so the inode alone changes on each save; size and mtime catch writers that rewrite in place."""

_loaded_versions: dict[str, _FileVersion] = {}
"""Layer identifier -> version of the file its in-memory content was last read from or saved to. OpenUSD shares
open layers between all stages of a process, so a layer another handle keeps open is not re-read by
``Usd.Stage.Open``; this tells whether it must be."""


def _file_version(path: str | Path) -> _FileVersion:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


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
        lock_timeout_s: seconds :meth:`save` waits for another edit of the twin; None: ``$SPLATTWIN_LOCK_TIMEOUT``
            or 300 s.
    """

    root_path: Path
    stage: Usd.Stage
    layers: dict[str, Sdf.Layer]
    _new_layers: set[str] = field(default_factory=set)
    lock_timeout_s: float | None = None
    _versions: dict[Path, _FileVersion] = field(default_factory=dict)

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

    def _files(self) -> list[tuple[str, Sdf.Layer, Path]]:
        return [("root", self.root_layer, self.root_path)] + [
            (name, layer, self.layer_path(name)) for name, layer in self.layers.items()
        ]

    def changed_on_disk(self) -> list[Path]:
        """Files of this twin that another writer saved (or removed, or created) since this handle read them."""
        return [path for _, _, path in self._files() if _file_version(path) != self._versions.get(path)]

    def reload(self) -> None:
        """Re-read every layer from disk, dropping unsaved edits; afterwards :meth:`save` is allowed again.

        Raises:
            StageError: a layer file is missing now (the twin was removed or damaged since it was opened).
        """
        for name, layer, path in self._files():
            if not path.is_file():
                raise StageError(self.root_path, f"cannot reload: its {name} layer {path} is missing")
            if not layer.Reload(force=True):
                # A layer made by Sdf.Layer.New (a twin's creation) was never read from a file, so OpenUSD refuses
                # to reload it and it stays dirty, which would make every later edit in this process refuse the
                # twin. Saving it once (OpenUSD writes a temporary and renames it) ties it to its file; the
                # content is what was just renamed into place, so a crash here changes nothing.
                layer.Save(force=True)
            version = _file_version(path)
            self._versions[path] = _loaded_versions[layer.identifier] = version
        self._new_layers.clear()

    def save(self) -> list[Path]:
        """Write every changed layer atomically, under the twin's edit lock; returns the files written.

        Raises:
            StageError: another process saved one of the twin's files since this handle read it (nothing is
                written: :meth:`reload` and redo the edit), the edit lock stayed busy past the timeout, or the
                lock cannot be taken (read-only folder).
            InputError: a layer file cannot be created (the folder is not writable); nothing is replaced.
        """
        pending = [(layer, path) for name, layer, path in self._files() if layer.dirty or name in self._new_layers]
        if not pending:
            return []
        with twin_lock(self.root_path, timeout_s=self.lock_timeout_s):
            changed = self.changed_on_disk()
            if changed:
                names = ", ".join(str(path) for path in changed)
                raise StageError(
                    self.root_path,
                    f"not saved: another writer changed {names} since this handle read it; saving would "
                    "overwrite that work (call reload() and redo the edit, or re-open the twin)",
                )
            self._write(pending)
        return [path for _, path in pending]

    def _write(self, pending: list[tuple[Sdf.Layer, Path]]) -> None:
        from splattwin.io import atomic_output  # noqa: PLC0415

        created_dir = not layers_dir(self.root_path).exists()
        layers_dir(self.root_path).mkdir(parents=True, exist_ok=True)
        try:
            # The stack renames in reverse: sublayers first, the root layer (first in `pending`) last, so a crash
            # mid-save of a new twin leaves no root pointing at missing sublayers (tests/test_crash_safety.py).
            with contextlib.ExitStack() as stack:
                for layer, path in pending:
                    tmp = stack.enter_context(atomic_output(path))
                    if not layer.Export(str(tmp)):
                        raise StageError(path, "OpenUSD could not write this layer")
        except BaseException as exc:
            if created_dir:
                shutil.rmtree(layers_dir(self.root_path), ignore_errors=True)
            if isinstance(exc, OSError):  # a full disk, a vanished folder: the old twin stays, say so in one line
                raise StageError(
                    self.root_path, f"not saved ({exc.strerror or exc}); every file of the twin is unchanged"
                ) from exc
            raise
        self._new_layers.clear()
        for layer, path in pending:
            # Re-read what was just written (cheap: crate files load lazily) so the layer is clean and tied to the
            # new file; other handles in this process share it and see the saved state.
            if not layer.Reload(force=True):
                # A layer made by Sdf.Layer.New (a twin's creation) was never read from a file, so OpenUSD refuses
                # to reload it and it stays dirty, which would make every later edit in this process refuse the
                # twin. Saving it once (OpenUSD writes a temporary and renames it) ties it to its file; the
                # content is what was just renamed into place, so a crash here changes nothing.
                layer.Save(force=True)
            version = _file_version(path)
            self._versions[path] = _loaded_versions[layer.identifier] = version

    def discard(self) -> None:
        """Drop unsaved edits so the in-memory layers match the files again."""
        for name, layer in [("root", self.root_layer), *self.layers.items()]:
            if name not in self._new_layers and layer.dirty:
                layer.Reload(force=True)


def _new_twin(root: Path) -> TwinStage:
    from pxr import Sdf, Usd, UsdGeom, UsdPhysics  # noqa: PLC0415

    import splattwin  # noqa: PLC0415

    def new_layer(extension: str, path: Path) -> Sdf.Layer:
        # A creation that failed in this process (a full disk, an error in the edit) leaves its never-saved layers
        # in OpenUSD's registry under the same names; reuse them emptied, or Sdf.Layer.New refuses the name.
        existing = Sdf.Layer.Find(str(path))
        if existing is not None:
            existing.Clear()
            return existing
        return Sdf.Layer.New(Sdf.FileFormat.FindByExtension(extension), str(path))

    root = root.resolve()
    root_layer = new_layer(root.suffix.lstrip(".") or "usda", root)
    _set_stage_metadata(root_layer)
    layers = {}
    for name in LAYER_NAMES:
        path = layers_dir(root) / f"{name}{_LAYER_SUFFIX[name]}"
        layer = new_layer(_LAYER_SUFFIX[name].lstrip("."), path)
        _set_stage_metadata(layer)
        layer.comment = f"SplatTwin {name} layer of {root.name}"
        layers[name] = layer
        root_layer.subLayerPaths.append(_relative_sublayer(root, name))
    root_layer.customLayerData = {"splattwin": {"version": splattwin.__version__, "layers": ", ".join(LAYER_NAMES)}}
    stage = Usd.Stage.Open(root_layer)
    world = UsdGeom.Xform.Define(stage, WORLD_PATH)
    stage.SetDefaultPrim(world.GetPrim())
    twin = TwinStage(root_path=root, stage=stage, layers=layers, _new_layers={"root", *LAYER_NAMES})
    twin._versions = {path: None for _, path in _twin_files(root)}  # saving refuses if someone else creates it
    with twin.edit_layer("scene") as edit:
        UsdGeom.Xform.Define(edit, WORLD_PATH)
        scene = UsdPhysics.Scene.Define(edit, PHYSICS_SCENE_PATH)
        scene.CreateGravityDirectionAttr().Set((0.0, 0.0, -1.0))
        scene.CreateGravityMagnitudeAttr().Set(GRAVITY_M_S2)
    return twin


def _twin_files(root: Path) -> list[tuple[str, Path]]:
    return [("root", root)] + [(name, layers_dir(root) / f"{name}{_LAYER_SUFFIX[name]}") for name in LAYER_NAMES]


def _refresh_loaded_layers(root: Path, *, for_edit: bool) -> dict[Path, _FileVersion]:
    """Re-read layers this process already holds open when their files changed on disk; their versions.

    A layer with unsaved edits (another handle of this process changed it) is kept as is, its version being the
    one those edits started from; an edit refuses it, since saving would publish someone else's half-done work.
    """
    from pxr import Sdf  # noqa: PLC0415

    versions: dict[Path, _FileVersion] = {}
    for name, path in _twin_files(root):
        version = _file_version(path)
        # Find gives a weak handle, which another thread releasing the last stage on that layer expires while it
        # is read here (Boost "did not match C++ signature"); FindOrOpen of a layer just found gives a strong one.
        found = Sdf.Layer.Find(str(path)) if version is not None else None
        layer = Sdf.Layer.FindOrOpen(str(path)) if found is not None else None
        if layer is None:
            versions[path] = version  # read fresh by Usd.Stage.Open below
        elif layer.dirty:
            if for_edit:
                raise StageError(
                    root,
                    f"its {name} layer has unsaved edits in another open handle of this process; save() or "
                    "discard() that handle before editing the twin",
                )
            versions[path] = _loaded_versions.get(layer.identifier)
        else:
            if _loaded_versions.get(layer.identifier) != version:
                layer.Reload(force=True)
            versions[path] = version
    return versions


def open_twin(path: str | Path, *, lock_timeout_s: float | None = None, _for_edit: bool = False) -> TwinStage:
    """Open an existing twin (read or edit); :class:`StageError` if it is missing, not USD or not a twin.

    Layers are read as they are on disk now, even where another handle of this process holds them open (unless
    that handle has unsaved edits). The handle remembers which version of each file it read, so a later
    :meth:`TwinStage.save` refuses to overwrite what another process saved in between.

    Args:
        path: the root layer file.
        lock_timeout_s: seconds a later :meth:`TwinStage.save` waits for another edit of the twin; None:
            ``$SPLATTWIN_LOCK_TIMEOUT`` or 300 s.
    """
    root = Path(path)
    versions = _refresh_loaded_layers(root.resolve(), for_edit=_for_edit) if root.is_file() else {}
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
    twin = TwinStage(root_path=root.resolve(), stage=stage, layers=found, lock_timeout_s=lock_timeout_s)
    for _, layer, file in twin._files():
        twin._versions[file] = versions.get(file, _file_version(file))
        if not layer.dirty:
            _loaded_versions[layer.identifier] = twin._versions[file]
    return twin


def _temporaries_of(path: Path) -> list[Path]:
    """Leftover temporaries of :func:`splattwin.io.atomic_output` for ``path`` (``.scene.usdc.1a2b3c4d.usdc``),
    and those of OpenUSD's own export into such a temporary, which writes ``.scene.usdc.1a2b3c4d.<6 chars>``
    first and renames it (a kill between the two leaves that one)."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.[0-9a-f]{{8}}({re.escape(path.suffix)}|\.[A-Za-z0-9]{{6}})$")
    try:
        return [entry for entry in path.parent.iterdir() if pattern.match(entry.name)]
    except OSError:
        return []


def _is_interrupted_creation(root: Path) -> bool:
    """True when the layers folder holds nothing but this twin's layer files and temporaries while the root layer
    is missing: a first save killed before its last rename (the root is renamed last), never a committed twin."""
    names = {path.name for _, path in _twin_files(root)[1:]}
    debris = {path.name for _, path in _twin_files(root)[1:] for path in _temporaries_of(path)}
    return all(entry.name in names | debris for entry in layers_dir(root).iterdir())


def _remove_interrupted_writes(root: Path) -> None:
    """Under the lock, no other save of this twin runs: remove what killed saves left (temporaries, and the layers
    of a creation that never got its root layer)."""
    removed = [path for _, file in _twin_files(root) for path in _temporaries_of(file)]
    if not root.exists() and layers_dir(root).is_dir():
        removed += [path for _, path in _twin_files(root)[1:] if path.exists()]
    for path in removed:
        with contextlib.suppress(OSError):
            path.unlink()
    if removed:
        logger.warning("%s: removed %d file(s) left by an interrupted save", root, len(removed))
    if not root.exists() and layers_dir(root).is_dir():
        with contextlib.suppress(OSError):
            layers_dir(root).rmdir()


@contextlib.contextmanager
def edit_twin(path: str | Path, *, create: bool = True, lock_timeout_s: float | None = None) -> Iterator[TwinStage]:
    """Edit a twin as one transaction: lock, read fresh, let the caller author, save atomically, unlock.

    The twin's edit lock (:func:`splattwin.usd.locking.twin_lock`) is held from before the layers are read until
    after they are saved, so concurrent edits of one twin (other processes, other threads) serialise and each
    sees the previous one's result; none is lost. Waiting for another holder logs a warning naming it. On any
    error inside the block every in-memory edit is dropped and no file changes.

    Args:
        path: the root layer file (``.usda``, ``.usdc`` or ``.usd``).
        create: make a new twin when ``path`` does not exist.
        lock_timeout_s: seconds to wait for another edit of the twin; None: ``$SPLATTWIN_LOCK_TIMEOUT`` or 300 s.

    Raises:
        StageError: ``path`` exists but is not a USD twin, or does not exist and ``create`` is False; the lock
            stayed busy past the timeout or cannot be taken (read-only folder); another handle of this process
            holds unsaved edits of the twin.
    """
    root = Path(path)
    if not root.exists():
        if not create:
            raise StageError(root, "no such twin stage")
        if root.suffix not in USD_SUFFIXES:
            raise StageError(root, f"a twin stage must be a USD file ({', '.join(USD_SUFFIXES)}), got {root.suffix!r}")
        try:
            root.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StageError(root, f"cannot create its folder {root.parent}: {exc.strerror or exc}") from exc
    with twin_lock(root, timeout_s=lock_timeout_s):
        # Decided under the lock: another process may have created the twin while this one waited.
        if root.exists():
            twin = open_twin(root, lock_timeout_s=lock_timeout_s, _for_edit=True)
        elif not create:
            raise StageError(root, "no such twin stage")
        elif layers_dir(root).exists() and not _is_interrupted_creation(root):
            raise StageError(root, f"does not exist but {layers_dir(root)} does; remove it or pick another stage path")
        else:
            _remove_interrupted_writes(root)
            twin = _new_twin(root)
            twin.lock_timeout_s = lock_timeout_s
        if root.exists():
            _remove_interrupted_writes(root)
        try:
            yield twin
            twin.save()
        except BaseException:
            twin.discard()  # also after a failed save: no half-applied edit stays in this process's layers
            raise
