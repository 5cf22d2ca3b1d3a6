"""Kit tests of the SplatTwin extension (omni.kit.test): see docs/extension.md for the one command."""

from .test_extension import *  # noqa: F403
