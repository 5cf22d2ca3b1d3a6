"""The robots the tasks drive: one module per robot holding its names, geometry and frames (as mjlab's and Isaac
Lab's robot modules do), read by both runtimes."""

__all__: list[str] = []
