"""GraspMLP (DREAM, seed 001, section IV-D and Table IV), conditioned on the mass and its uncertainty, and its two
training phases.

The network reads the object's surface points (robot-base frame) with a positional encoding and, unless built
without it, the mass as ``[log(m / 1 kg), relative uncertainty]``. It predicts the grasp centre (the pose head:
the pre-grasp position; the hand's orientation is the runtime's top-down one), the Panda's 9 joint targets there, a
pair of contact-success logits (DREAM's two contact terms: pads kept on the object through lift and hold, and the
object held at the end) and a grip force in [0, 1].

Force: DREAM's label is ``f = clip(m g n / f_max, 0, 1)`` (``n`` pads in contact, ``f_max`` a normaliser), the load
the grasp carries. The gripper turns a predicted ``f`` into a closing force per finger with
:func:`grip_force_from_head`: ``F = margin * (f f_max / n) / (n mu)``, the force at which ``n`` pads with friction
``mu`` carry that load, times a margin (by default the square root of the Lift task's ceiling ratio, so DREAM's label
lands at the log-centre of the window between slipping and crushing).

Phase 1 (:func:`train_supervised`): Algorithm 2's MSE + BCE + MSE on the demonstrations. Phase 2
(:func:`refine`): rollouts of the network's own actions in the twin. MuJoCo's C engine gives no gradient and the
outcome (held / slipped / crushed) is a step function of the actions, so a differentiable signal does not exist
here; the refinement is a policy gradient (REINFORCE with a batch-mean baseline) on a Gaussian around the
predicted grasp centre and log force, plus DREAM's own phase-2 terms (0.8 BCE on the observed contact outcomes,
0.3 MSE on the observed force target). DREAM's released code computes only those two terms with the executed
actions detached, so its phase 2 never moves the actions; ``policy_gradient=False`` reproduces that for
comparison (and the tests show it leaves the actions unchanged while the policy gradient moves them).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = [
    "GRAVITY_M_S2",
    "GraspBatch",
    "GraspMLP",
    "Phase1Cfg",
    "Phase2Cfg",
    "dream_force_target",
    "grip_force_from_head",
    "phase1_losses",
    "positional_encoding",
    "refine",
    "train_supervised",
]

GRAVITY_M_S2 = 9.81
_POSE_UNIT_M = 0.01  # the pose head predicts the offset from the points' centroid in centimetres
_LOCAL_SCALE_M = 0.1  # centred points are divided by this before the encoding
_POSE_LOSS_SCALE_M = 0.01  # pose errors are measured in cm in the loss
_JOINT_LOSS_SCALE = 0.1  # joint errors in units of 0.1 rad (and 0.1 m for the fingers' openings, which match)


def positional_encoding(x: torch.Tensor, frequencies: int) -> torch.Tensor:
    """NeRF's encoding of ``x`` [..., C]: ``[x, sin(2^k pi x), cos(2^k pi x)]`` for k < ``frequencies``, [..., C(1 +
    2 frequencies)]."""
    scales = (2.0 ** torch.arange(frequencies, dtype=x.dtype, device=x.device)) * math.pi
    angles = x[..., None, :] * scales[:, None]  # [..., L, C]
    return torch.cat([x, torch.sin(angles).flatten(-2), torch.cos(angles).flatten(-2)], dim=-1)


def dream_force_target(mass_kg: torch.Tensor, contacts: torch.Tensor, f_max_n: float) -> torch.Tensor:
    """DREAM's force label ``clip(m g n / f_max, 0, 1)`` (Algorithm 2, line 19), shape of ``mass_kg``."""
    return (mass_kg * GRAVITY_M_S2 * contacts / f_max_n).clamp(0.0, 1.0)


def grip_force_from_head(
    f_hat: torch.Tensor, *, f_max_n: float, friction: float, contacts: int = 2, margin: float = math.sqrt(3.0)
) -> torch.Tensor:
    """Closing force per finger [N] for a force-head output ``f_hat`` in [0, 1]: ``margin (f f_max / n) / (n mu)``."""
    return margin * (f_hat * f_max_n / contacts) / (contacts * friction)


@dataclass
class GraspOutput:
    """The heads, each with a batch dimension B.

    Attributes:
        centre: grasp centre, robot-base frame [B, 3] m.
        joints: arm joints [rad] and finger openings [m] [B, 9].
        contact_logits: (contact sustained, held) [B, 2].
        force: the force head in [0, 1] [B].
    """

    centre: torch.Tensor
    joints: torch.Tensor
    contact_logits: torch.Tensor
    force: torch.Tensor


class GraspMLP(nn.Module):
    """Surface points (+ mass) -> grasp centre, joint targets, contact logits, grip force.

    Args:
        use_mass: read the mass input (False: a network without mass, as in DREAM's code).
        frequencies: positional-encoding frequencies.
        point_width: width of the per-point layers.
        width: width of the shared trunk (Table IV: three 256-wide ReLU layers).
        joints: joint targets predicted.
    """

    def __init__(
        self, *, use_mass: bool = True, frequencies: int = 6, point_width: int = 128, width: int = 256, joints: int = 9
    ) -> None:
        super().__init__()
        self.use_mass, self.frequencies = use_mass, frequencies
        encoded = 3 * (1 + 2 * frequencies)
        self.point_net = nn.Sequential(
            nn.Linear(encoded, point_width), nn.ReLU(), nn.Linear(point_width, point_width), nn.ReLU()
        )
        trunk_in = point_width + encoded + (2 if use_mass else 0)
        self.trunk = nn.Sequential(
            nn.Linear(trunk_in, width),
            nn.ReLU(),
            nn.Linear(width, width),
            nn.ReLU(),
            nn.Linear(width, width),
            nn.ReLU(),
        )
        self.pose_head = nn.Linear(width, 3)
        self.joint_head = nn.Linear(width, joints)
        self.contact_head = nn.Linear(width, 2)
        # With the mass, the force head predicts its logit relative to log m: DREAM's label is proportional to the
        # mass and, for the small values it takes, its sigmoid's logit is about log f = log m + const. Through the
        # trunk alone (or a learned skip) Adam took hundreds of steps to start using the mass and under-fit it.
        self.force_head = nn.Linear(width, 1)

    def forward(self, points: torch.Tensor, mass: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """``(centre [B, 3], joints [B, 9], contact_logits [B, 2], force [B])`` (a tuple, for ONNX export).

        Args:
            points: object surface points, robot-base frame [B, P, 3] m.
            mass: ``[log(m / 1 kg), relative uncertainty]`` [B, 2]; ignored by a network without mass.
        """
        centroid = points.mean(dim=1)
        local = (points - centroid[:, None]) / _LOCAL_SCALE_M
        features = self.point_net(positional_encoding(local, self.frequencies)).max(dim=1).values
        parts = [features, positional_encoding(centroid, self.frequencies)]
        if self.use_mass:
            if mass is None:
                raise ValueError("this GraspMLP is conditioned on the mass: pass mass [B, 2]")
            parts.append(mass)
        h = self.trunk(torch.cat(parts, dim=1))
        centre = centroid + _POSE_UNIT_M * self.pose_head(h)
        logit = self.force_head(h).squeeze(1)
        force = torch.sigmoid(logit + mass[:, 0] if self.use_mass else logit)
        return centre, self.joint_head(h), self.contact_head(h), force

    def predict(self, points: torch.Tensor, mass: torch.Tensor | None = None) -> GraspOutput:
        """:meth:`forward` as a :class:`GraspOutput`."""
        return GraspOutput(*self(points, mass))


@dataclass
class GraspBatch:
    """Training inputs and labels, each with a batch dimension D.

    Attributes:
        points: [D, P, 3] m, robot-base frame. mass: [D, 2] network mass input. mass_kg: [D] true mass.
        centre: [D, 3] demonstrated grasp centre. joints: [D, 9] (NaN rows: no joints). contacts: [D] pads in
        contact. labels: [D, 2] (contact sustained, success) in {0, 1}.
    """

    points: torch.Tensor
    mass: torch.Tensor
    mass_kg: torch.Tensor
    centre: torch.Tensor
    joints: torch.Tensor
    contacts: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.mass_kg)

    def index(self, rows: torch.Tensor) -> GraspBatch:
        """The rows ``rows``."""
        return GraspBatch(*(getattr(self, name)[rows] for name in self.__dataclass_fields__))


@dataclass(kw_only=True)
class Phase1Cfg:
    """Supervised phase (Algorithm 2, lines 2-13).

    Attributes:
        epochs: passes over the demonstrations. batch_size: demonstrations per step. lr: Adam's learning rate.
        f_max_n: DREAM's force normaliser [N]. force_weight: weight of the force MSE (the labels are ~0.03-0.2, so
        an unweighted error would vanish beside the others). seed: initialisation and shuffling seed.
    """

    epochs: int = 150
    batch_size: int = 64
    lr: float = 1e-3
    f_max_n: float = 40.0
    force_weight: float = 100.0
    seed: int = 0


def phase1_losses(
    model: GraspMLP, batch: GraspBatch, *, f_max_n: float, force_weight: float
) -> dict[str, torch.Tensor]:
    """Algorithm 2's losses on ``batch``: ``action`` (MSE of the grasp centre in cm and of the joints in 0.1 rad,
    successful demonstrations only), ``contact`` (BCE of the logit pair against the outcomes), ``force``
    (``force_weight`` x MSE against DREAM's label, successful demonstrations only) and their sum ``total``."""
    out = model.predict(batch.points, batch.mass)
    good = batch.labels[:, 1] > 0.5
    zero = out.force.sum() * 0.0
    if good.any():
        pose = (((out.centre[good] - batch.centre[good]) / _POSE_LOSS_SCALE_M) ** 2).mean()
        have = torch.isfinite(batch.joints[good]).all(dim=1)
        joints = zero
        if have.any():
            joints = (((out.joints[good][have] - batch.joints[good][have]) / _JOINT_LOSS_SCALE) ** 2).mean()
        target = dream_force_target(batch.mass_kg[good], batch.contacts[good], f_max_n)
        force = force_weight * ((out.force[good] - target) ** 2).mean()
    else:
        pose = joints = force = zero
    contact = nn.functional.binary_cross_entropy_with_logits(out.contact_logits, batch.labels)
    action = pose + joints
    return {"action": action, "contact": contact, "force": force, "total": action + contact + force}


def train_supervised(
    model: GraspMLP, batch: GraspBatch, cfg: Phase1Cfg, *, on_epoch: Callable[[int, float], None] | None = None
) -> list[float]:
    """Phase 1: Adam on :func:`phase1_losses` for ``cfg.epochs`` epochs; returns the mean total loss per epoch."""
    generator = torch.Generator().manual_seed(cfg.seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    history = []
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(batch), generator=generator)
        total, steps = 0.0, 0
        for start in range(0, len(batch), cfg.batch_size):
            losses = phase1_losses(
                model,
                batch.index(order[start : start + cfg.batch_size]),
                f_max_n=cfg.f_max_n,
                force_weight=cfg.force_weight,
            )
            optimiser.zero_grad()
            losses["total"].backward()
            optimiser.step()
            total, steps = total + float(losses["total"].detach()), steps + 1
        history.append(total / steps)
        if on_epoch is not None:
            on_epoch(epoch, history[-1])
    return history


@dataclass(kw_only=True)
class Phase2Cfg:
    """Refinement by rollouts (Algorithm 2, lines 14-26, with a policy gradient on the actions).

    Attributes:
        iterations: refinement steps. rollouts: trials per step. lr: Adam's learning rate.
        centre_std_m: exploration around the predicted grasp centre [m]. log_force_std: exploration in log force.
        policy_gradient: add REINFORCE on the actions (False: DREAM's code, actions detached).
        contact_weight, force_weight: DREAM's 0.8 and 0.3 on its two terms (the force MSE also x the phase-1
        force weight). seed: sampling seed.
    """

    iterations: int = 6
    rollouts: int = 48
    lr: float = 3e-4
    centre_std_m: float = 0.004
    log_force_std: float = 0.2
    policy_gradient: bool = True
    contact_weight: float = 0.8
    force_weight: float = 0.3
    seed: int = 0


Rollout = Callable[[np.ndarray, np.ndarray, np.ndarray], dict[str, np.ndarray]]
"""``rollout(rows [K], centres [K, 3] m, forces [K] N) -> {"success", "contact_sustained", "contacts"}`` (each [K]):
runs the K actions on the contexts ``rows`` of the batch (in the twin, or a stand-in in tests)."""


def refine(
    model: GraspMLP,
    batch: GraspBatch,
    rollout: Rollout,
    cfg: Phase2Cfg,
    *,
    f_max_n: float,
    friction: float,
    margin: float = math.sqrt(3.0),
    force_weight: float = 100.0,
    on_iteration: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Phase 2: ``cfg.iterations`` steps, each of ``cfg.rollouts`` sampled actions on random contexts of ``batch``;
    returns the success rate of each step's rollouts."""
    generator = torch.Generator().manual_seed(cfg.seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    rates = []
    for iteration in range(cfg.iterations):
        rows = torch.randint(len(batch), (cfg.rollouts,), generator=generator)
        sub = batch.index(rows)
        out = model.predict(sub.points, sub.mass)
        log_force = torch.log(
            grip_force_from_head(out.force, f_max_n=f_max_n, friction=friction, margin=margin).clamp_min(1e-6)
        )
        mean = torch.cat([out.centre, log_force[:, None]], dim=1)
        std = torch.tensor([cfg.centre_std_m] * 3 + [cfg.log_force_std])
        action = (mean + std * torch.randn(mean.shape, generator=generator)).detach()
        result = rollout(
            rows.numpy(), action[:, :3].numpy().astype(np.float64), torch.exp(action[:, 3]).numpy().astype(np.float64)
        )
        success = torch.as_tensor(result["success"], dtype=torch.float32)
        sustained = torch.as_tensor(result["contact_sustained"], dtype=torch.float32)
        contacts = torch.as_tensor(result["contacts"], dtype=torch.float32)
        labels = torch.stack([sustained, success], dim=1)
        loss = cfg.contact_weight * nn.functional.binary_cross_entropy_with_logits(out.contact_logits, labels)
        target = dream_force_target(sub.mass_kg, contacts, f_max_n)
        loss = loss + cfg.force_weight * force_weight * ((out.force - target) ** 2).mean()
        if cfg.policy_gradient:
            advantage = success - success.mean()
            log_prob = -0.5 * (((action - mean) / std) ** 2).sum(dim=1)
            loss = loss - (advantage * log_prob).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        rates.append(float(success.mean()))
        if on_iteration is not None:
            on_iteration(iteration, rates[-1])
    return rates
