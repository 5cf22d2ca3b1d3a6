"""Force-aware, mass-conditioned grasping (DREAM, seed 001, section IV-D): antipodal candidates on the object's mesh
(:mod:`.sampler`), trials in the embedded runtime (:mod:`.trials`), the demonstrations' npz format
(:mod:`.dataset`), GraspMLP and its two training phases (:mod:`.model`) and the verbs' pipeline
(:mod:`.pipeline`, the ``grasp`` entry point of ``splattwin.tasks``)."""

__all__: list[str] = []
