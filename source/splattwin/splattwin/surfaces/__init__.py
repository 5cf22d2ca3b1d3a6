"""Surfaces from Gaussians: ray-Gaussian depth views, TSDF fusion, extraction (docs/surfaces.md)."""
