"""SplatTwin core: Gaussian-splat digital twins of robot workcells as USD stages.

Kit-free: nothing here imports ``omni``, ``carb``, ``isaacsim`` or ``isaaclab``. ``pxr`` is imported lazily
inside the functions that author USD, so ``import splattwin`` works without an OpenUSD install.
"""

import os

# torch and the numba kernels (render, claim) share libgomp. With its default (active) wait policy the idle pool
# of one spins on the cores the other needs: measured here, a 100k-Gaussian render took 1.8 s forward instead
# of 0.22 s. PASSIVE makes idle OpenMP threads sleep. libgomp reads it once, when torch or numba first loads it,
# so it only helps where splattwin is imported first (the CLI, the tests); docs/rendering.md says so.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from splattwin.errors import InputError, SplatTwinError, StageError
from splattwin.gaussians import Gaussians

__all__ = ["Gaussians", "InputError", "SplatTwinError", "StageError", "__version__"]

__version__ = "0.1.0"
