"""MuJoCo-made push logs for the physics and identification tests (the independent simulator, never Warp)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ASSETS = Path(__file__).resolve().parents[1] / "usd_assets"


def generator() -> ModuleType:
    """``usd_assets/make_pushlogs.py`` as a module."""
    name = "make_pushlogs"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ASSETS / "make_pushlogs.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]


def make_logs(folder: Path, shape: str, *, noise_seed: int | None = None, **overrides) -> list[Path]:
    """The shape's two standard pushes (``shape_setups``) written under ``folder``; ``overrides`` change both."""
    import dataclasses

    gen = generator()
    made = []
    for i, setup in enumerate(gen.shape_setups(gen.SHAPES[shape])):
        setup = dataclasses.replace(setup, **overrides)
        seed = None if noise_seed is None else noise_seed + i
        made.append(gen.make_shape_log(folder / f"{shape}_{i}", gen.SHAPES[shape], setup, noise_seed=seed))
    return made
