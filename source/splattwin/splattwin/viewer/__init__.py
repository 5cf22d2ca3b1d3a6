"""The browser viewer (``splattwin view``): the twin as composed, drawn with viser, posed and played back live.

:mod:`splattwin.viewer.model` reads what is drawn from the stage (pure arrays, through :mod:`splattwin.scene`);
:mod:`splattwin.viewer.server` draws it on a viser server and reloads it when the twin is saved. viser is the
``view`` extra; it is imported only when a server starts.
"""

from splattwin.viewer.model import TwinModel, read_model

__all__ = ["TwinModel", "read_model"]
