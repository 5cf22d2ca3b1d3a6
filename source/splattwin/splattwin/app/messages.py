"""Messages for the panel instead of exceptions: every action returns what happened as lines to show."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from splattwin.errors import SplatTwinError

__all__ = ["ActionResult", "Message", "run_action"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """A line for the panel: ``level`` is ``info``, ``warning`` or ``error``."""

    level: str
    text: str


@dataclass
class ActionResult:
    """What an action did: ``ok`` (nothing raised), its lines, and its return value (None on error)."""

    ok: bool
    messages: list[Message] = field(default_factory=list)
    value: Any = None

    @property
    def text(self) -> str:
        """All lines, one per message, for a label or a log."""
        return "\n".join(f"{m.level}: {m.text}" for m in self.messages)


def run_action(
    what: str, action: Callable[[], Any], describe: Callable[[Any], list[Message]] | None = None
) -> ActionResult:
    """Run ``action``; a user error becomes one error line, anything else an ``internal error`` line (logged).

    The pipelines save a twin atomically or not at all, so an action that failed left the stage as it was.

    Args:
        what: the action's name for the message, e.g. ``"import splat"``.
        action: the work; its return value becomes :attr:`ActionResult.value`.
        describe: turns the return value into info/warning lines.
    """
    try:
        value = action()
    except SplatTwinError as exc:
        return ActionResult(ok=False, messages=[Message("error", f"{what}: {exc}")])
    except Exception as exc:  # noqa: BLE001 (the panel shows a line, never an exception dialog)
        _log.error("%s failed:\n%s", what, traceback.format_exc())
        return ActionResult(ok=False, messages=[Message("error", f"{what}: internal error: {exc!r}")])
    messages = describe(value) if describe else [Message("info", f"{what}: done")]
    return ActionResult(ok=True, messages=messages, value=value)
