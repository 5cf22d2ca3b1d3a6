"""``key=value`` overrides (hydra / OmegaConf dotlist syntax) onto a config dataclass: the one parser of the verbs
that take them (``demo``, and ``train`` / ``play`` in the task package).

The defaults live in code (a ``@dataclass(kw_only=True)`` with a ``validate()``); an optional YAML file (the
package's ``config/demo.yaml``) overrides them, and the command line's ``key=value`` items override both. Every
mistake is one :class:`~splattwin.errors.InputError` line naming the item: not ``key=value``, an unknown key (with
the nearest known one suggested), a value of the wrong type, a key that has its own flag.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from splattwin.errors import InputError

__all__ = ["override_keys", "parse_overrides"]

_Config = TypeVar("_Config")


def override_keys(config_type: type) -> tuple[list[str], list[str]]:
    """The keys an override may name: ``(exact, open)``.

    ``exact``: every field, and every field of a nested dataclass as ``outer.inner`` (``robot.seed``);
    ``open``: fields holding a free-form dict, under which any dotted key is allowed (``env.fixed_mass_kg``).
    """
    exact: list[str] = []
    open_prefixes: list[str] = []
    hints = typing.get_type_hints(config_type)
    for f in dataclasses.fields(config_type):
        kind = hints.get(f.name, f.type)
        exact.append(f.name)
        if dataclasses.is_dataclass(kind):
            inner, inner_open = override_keys(kind)
            exact += [f"{f.name}.{key}" for key in inner]
            open_prefixes += [f"{f.name}.{key}" for key in inner_open]
        elif kind is dict or typing.get_origin(kind) is dict:
            open_prefixes.append(f.name)
    return exact, open_prefixes


def _check_items(
    config_type: type, overrides: Sequence[str], *, label: str, flags: Mapping[str, str], example: str
) -> None:
    exact, open_prefixes = override_keys(config_type)
    for item in overrides:
        key, sep, _ = str(item).partition("=")
        where = f"{label} {item!r}"
        if key.startswith("~"):
            raise InputError(where, "removing a setting (~key) is not supported: give key=value")
        key = key.removeprefix("+")  # hydra's "add": every known key exists already, so it is a plain set
        if not sep or not key:
            raise InputError(where, f"expected key=value, e.g. {example}")
        if key in flags:
            raise InputError(where, flags[key])
        if key in exact or any(key.startswith(f"{prefix}.") for prefix in open_prefixes):
            continue
        near = difflib.get_close_matches(key, exact, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise InputError(where, f"unknown key {key!r}; {hint}keys: {', '.join(exact)}")


def _one_line(exc: Exception) -> tuple[str | None, str]:
    """The key and the first line of an omegaconf error (it names the value and the expected type)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return getattr(exc, "full_key", None) or None, lines[0] if lines else type(exc).__name__


def parse_overrides(
    config_type: type[_Config],
    overrides: Sequence[str],
    *,
    defaults: Path | None = None,
    fixed: Mapping[str, Any] | None = None,
    flags: Mapping[str, str] | None = None,
    label: str = "override",
    example: str = "num_envs=8",
) -> _Config:
    """``config_type``'s code defaults, then the YAML file ``defaults``, then ``overrides``; type-checked, validated.

    Args:
        config_type: a dataclass whose fields all have defaults (nested dataclasses and dicts allowed).
        overrides: ``key=value`` items; dotted keys reach nested fields; values are parsed as YAML
            (``true``, ``3e-4``, ``[1, 2]``), as hydra and OmegaConf do.
        defaults: a YAML file of overrides applied before ``overrides`` (None: none).
        fixed: values set last, whatever the file or the items say (e.g. the demo's ``--out``).
        flags: keys that have their own command-line flag -> the message refusing them as an override.
        label: how an item is named in errors (``demo override 'x=1'``).
        example: a valid item for the "expected key=value" error.

    Raises:
        InputError: one line: a malformed item, an unknown key (the nearest known one suggested), a value of the
            wrong type, an unreadable ``defaults`` file, or what ``config_type.validate()`` refuses.
    """
    from omegaconf import OmegaConf  # noqa: PLC0415
    from omegaconf.errors import OmegaConfBaseException  # noqa: PLC0415

    _check_items(config_type, overrides, label=label, flags=flags or {}, example=example)
    items = [str(item).removeprefix("+") for item in overrides]
    merged = OmegaConf.structured(config_type)
    if defaults is not None:
        try:
            merged = OmegaConf.merge(merged, OmegaConf.load(defaults))
        except Exception as exc:  # yaml and omegaconf raise many types for a malformed file or an unknown key
            key, text = _one_line(exc)
            raise InputError(defaults, f"{key}: {text}" if key else text) from None
    try:
        merged = OmegaConf.merge(merged, OmegaConf.from_dotlist(items), dict(fixed or {}))
        config = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        key, text = _one_line(exc)
        raise InputError(key or label, text) from None
    validate = getattr(config, "validate", None)
    if callable(validate):
        validate()
    return config  # type: ignore[return-value]
