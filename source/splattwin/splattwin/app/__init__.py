"""Kit-free controllers behind the Isaac Sim extension's panel and viewport overlay (``exts/``).

Everything the panel does happens here, so it runs and is tested without Kit: :mod:`.messages` turns errors into
messages for the panel, :mod:`.panel` holds the panel's state and actions (imports, frame unification,
identification with progress and cancel, the overlay switch), :mod:`.training` runs ``splattwin train`` as a
subprocess and parses its progress, :mod:`.overlay` renders the bound Gaussians on a worker thread and composites
them over the simulator's image. Nothing here imports ``omni``; the Kit layer only binds widgets and commands.
Layering: ``app`` sits beside ``cli`` and calls ``pipelines`` and the domain packages, never the other way.
"""

__all__: list[str] = []
