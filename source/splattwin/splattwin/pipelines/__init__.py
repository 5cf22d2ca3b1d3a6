"""Thin runners composing the core into the command line's verbs: import, align, claim, export, demo."""

from splattwin.pipelines.align import AlignConfig, AlignResult, align_twin
from splattwin.pipelines.claim import ClaimConfig, claim_gaussians
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
    "ClaimConfig",
    "ExportSplatConfig",
    "ImportMeshConfig",
    "ImportMeshResult",
    "ImportSplatConfig",
    "ImportSplatResult",
    "align_twin",
    "claim_gaussians",
    "export_splat",
    "import_mesh",
    "import_splat",
]
