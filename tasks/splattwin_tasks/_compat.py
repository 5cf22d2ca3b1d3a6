"""Isaac Lab at arm's length: whether it is importable, its quaternion order, and ``configclass`` without it.

Importing this module never imports Isaac Lab; :func:`isaaclab_available` only asks importlib whether it could.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
from typing import Any, TypeVar

__all__ = ["configclass", "isaaclab_available", "isaaclab_quat_order"]

T = TypeVar("T")


def isaaclab_available() -> bool:
    """True when the ``isaaclab`` package can be imported (inside an Isaac Lab install)."""
    return importlib.util.find_spec("isaaclab") is not None


def isaaclab_quat_order(version: str | None = None) -> str:
    """Quaternion order of Isaac Lab's tensors: ``"wxyz"`` up to 2.x, ``"xyzw"`` from 3.0 on.

    Args:
        version: an Isaac Lab version string; None reads the installed ``isaaclab`` distribution's version.
    """
    if version is None:
        try:
            version = importlib.metadata.version("isaaclab")
        except importlib.metadata.PackageNotFoundError:
            raise RuntimeError("Isaac Lab is not installed, so its quaternion order is undefined") from None
    major = int(version.split(".")[0])
    return "wxyz" if major < 3 else "xyzw"


def _to_dict(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: _to_dict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_to_dict(v) for v in obj)
    return obj


def _fallback_configclass(cls: type[T]) -> type[T]:
    """A dataclass whose mutable defaults are copied per instance and that has ``to_dict()``, like configclass."""
    for name, value in list(vars(cls).items()):
        if name.startswith("__") or callable(value) or isinstance(value, property | classmethod | staticmethod):
            continue
        if name not in cls.__dict__.get("__annotations__", {}):
            continue
        if isinstance(value, list | dict | set) or dataclasses.is_dataclass(value):
            setattr(cls, name, dataclasses.field(default_factory=lambda v=value: _copy(v)))
    cls = dataclasses.dataclass(cls)
    cls.to_dict = lambda self: _to_dict(self)  # type: ignore[attr-defined]
    return cls


def _copy(value: Any) -> Any:
    import copy  # noqa: PLC0415

    return copy.deepcopy(value)


def configclass(cls: type[T]) -> type[T]:
    """Isaac Lab's ``configclass`` when Isaac Lab is installed, else an equivalent dataclass (with ``to_dict``)."""
    if isaaclab_available():
        from isaaclab.utils import configclass as isaaclab_configclass  # noqa: PLC0415, TID251

        return isaaclab_configclass(cls)
    return _fallback_configclass(cls)
