"""Differentiable push simulation in NVIDIA Warp (CPU and CUDA): rigid objects, table, PD-driven fingertip.

``kernels`` holds the Warp kernels; ``simulate`` prepares batches of push logs and runs them on a ``wp.Tape``.
Warp is imported only when a batch is built, so ``import splattwin.physics`` stays light.
"""

from splattwin.physics.simulate import (
    PARAMETER_NAMES,
    PushBatch,
    PushBody,
    PushSimConfig,
    SimulatedPush,
    body_from_mesh,
    sample_contact_points,
)

__all__ = [
    "PARAMETER_NAMES",
    "PushBatch",
    "PushBody",
    "PushSimConfig",
    "SimulatedPush",
    "body_from_mesh",
    "sample_contact_points",
]
