"""SplatTwin's Isaac Lab tasks: Push and Lift on a twin's tabletop, conditioned on the object's identified mass.

Importing registers the gym ids (``SplatTwin-Push-Franka-v0``, ``SplatTwin-Lift-Franka-v0`` and their ``-NoMass``
variants) with Isaac Lab's string entry points; it needs neither Isaac Sim nor Isaac Lab. Build an env with
:func:`make`: ``runtime="embedded"`` simulates on MuJoCo (CPU), ``runtime="isaaclab"`` inside Isaac Lab.
"""

from splattwin_tasks import manipulation  # noqa: F401  (registers the tasks)
from splattwin_tasks.registry import make, task_ids

__all__ = ["make", "task_ids"]
__version__ = "0.1.0"
