"""Isaac Lab's side of the tasks' command terms: one ``CommandTerm`` that runs any runtime-agnostic command of
:mod:`splattwin_tasks.mdp.commands` (``cfg.task_command``), so both runtimes sample the goal with the same code.

Imported only under Isaac Lab (by :mod:`~splattwin_tasks.manipulation.isaaclab_env`). The goal is held for the
whole episode (resampled at resets only), as the embedded runtime holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from isaaclab.managers import CommandTerm, CommandTermCfg  # noqa: TID251
from isaaclab.utils import configclass  # noqa: TID251

__all__ = ["TaskCommand", "TaskCommandCfg"]


class TaskCommand(CommandTerm):
    """Isaac Lab's ``CommandTerm`` around ``cfg.task_command`` (e.g.
    :class:`~splattwin_tasks.mdp.PushTargetCommandCfg`)."""

    cfg: TaskCommandCfg

    def __init__(self, cfg: TaskCommandCfg, env: Any) -> None:
        super().__init__(cfg, env)
        self._term = cfg.task_command.class_type(cfg.task_command, env)

    @property
    def command(self) -> torch.Tensor:
        return self._term.command

    def _resample_command(self, env_ids: Sequence[int]) -> None:
        self._term.resample(env_ids)

    def _update_command(self) -> None:
        pass

    def _update_metrics(self) -> None:
        pass


@configclass
class TaskCommandCfg(CommandTermCfg):
    """Cfg of :class:`TaskCommand`: ``task_command`` is the task description's command cfg."""

    class_type: type = TaskCommand
    resampling_time_range: tuple = (1.0e9, 1.0e9)  # held for the episode; resets resample it
    task_command: Any = None
