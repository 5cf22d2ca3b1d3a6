"""Replays every crasher the fuzzer ever found (tests/regressions/): each must now read or fail with InputError,
and through the import command exit 0 or 2 leaving no partial twin.

A file's name says its reader (``ply_binary-<hash>.ply``); the ``.txt`` beside it records the mutation and the
exception it raised when found. bench/fuzz_readers.py --save-crashers adds new ones here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fuzz_inputs import READERS

from splattwin.cli import main
from splattwin.errors import InputError
from splattwin.io import read_gaussians
from splattwin.mesh import load_mesh

REGRESSIONS = Path(__file__).parent / "regressions"
CASES = sorted(path for path in REGRESSIONS.iterdir() if path.suffix != ".txt")


def test_every_regression_file_is_recorded() -> None:
    assert len(CASES) >= 40  # the crashers found against the code before issue 10
    for case in CASES:
        assert case.with_name(case.name + ".txt").is_file(), f"{case.name} has no note of what it crashed"
        assert case.name.split("-")[0] in READERS


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_regression_file_reads_or_is_refused(case: Path) -> None:
    reader = READERS[case.name.split("-")[0]]
    try:
        result = read_gaussians(case) if reader.gaussians else load_mesh(case)
    except InputError as exc:
        assert str(case) in str(exc)
        return
    if reader.gaussians:
        assert np.isfinite(result.means).all() and (result.scales > 0).all() and np.isfinite(result.sh).all()
        assert ((result.opacities >= 0) & (result.opacities <= 1)).all()
        np.testing.assert_allclose(np.linalg.norm(result.quats_wxyz, axis=1), 1.0, atol=1e-5)
    else:
        assert np.isfinite(result.vertices).all() and result.faces.max() < len(result.vertices)


def test_regression_files_through_the_import_command(tmp_path: Path, capsys) -> None:
    """Exit 0 or 2 only; a refused import into a new twin leaves no file behind."""
    for index, case in enumerate(CASES):
        reader = READERS[case.name.split("-")[0]]
        verb = "import-splat" if reader.gaussians else "import-mesh"
        twin = tmp_path / f"t{index}" / "twin.usda"
        code = main([verb, str(case), "--stage", str(twin), "--prim", "/World/S"])
        assert code in (0, 2), case.name
        if code == 2:
            assert not twin.parent.exists() or not any(twin.parent.iterdir()), case.name
            assert capsys.readouterr().err.count("\n") == 1
