"""SplatTwin core: Gaussian-splat digital twins of robot workcells as USD stages.

Kit-free: nothing here imports ``omni``, ``carb``, ``isaacsim`` or ``isaaclab``. ``pxr`` is imported lazily
inside the functions that author USD, so ``import splattwin`` works without an OpenUSD install.
"""

from splattwin.errors import InputError, SplatTwinError, StageError
from splattwin.gaussians import Gaussians

__all__ = ["Gaussians", "InputError", "SplatTwinError", "StageError", "__version__"]

__version__ = "0.1.0"
