"""Pixels in: appearance fitting, robot pose from images, tracking (issue 20). Tensors and cameras, never a stage."""

__all__: list[str] = []
