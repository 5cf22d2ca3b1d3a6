"""SplatTwin's Kit extension: the panel, undoable commands and the viewport overlay (Kit-only glue).

Kit imports this package (``[[python.module]] name = "splattwin_ext"`` in the root extension.toml) and starts
the :class:`~splattwin_ext.extension.SplatTwinExtension` it finds here. The logic lives in :mod:`splattwin.app`.
"""

from .extension import SplatTwinExtension

__all__ = ["SplatTwinExtension"]
