"""Thin runners composing the core into the command line's verbs: import, align, export, demo."""

from splattwin.pipelines.align import AlignConfig, AlignResult, align_twin
from splattwin.pipelines.exporting import ExportSplatConfig, export_splat
from splattwin.pipelines.importing import (
    ImportMeshConfig,
    ImportMeshResult,
    ImportSplatConfig,
    ImportSplatResult,
    import_mesh,
    import_splat,
)

__all__ = [
    "AlignConfig",
    "AlignResult",
    "ExportSplatConfig",
    "ImportMeshConfig",
    "ImportMeshResult",
    "ImportSplatConfig",
    "ImportSplatResult",
    "align_twin",
    "export_splat",
    "import_mesh",
    "import_splat",
]
