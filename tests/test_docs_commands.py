"""Docs match behaviour: every ``splattwin`` command in README.md and docs/*.md runs as written (on the sample
assets, in a fresh folder), the material table in docs/formats.md is the code's, and the formats page names
every suffix the readers accept."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from splattwin.cli import VERB_MODULES, main
from splattwin.io import GAUSSIAN_SUFFIXES
from splattwin.mesh import MATERIALS, SUPPORTED_MESH_SUFFIXES
from splattwin.pipelines._units import HARD_BODY_SIZE_M, HARD_MASS_KG

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def commands(path: Path) -> list[str]:
    """The ``splattwin ...`` lines of the file's bash blocks, comments dropped, in order."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", path.read_text(), flags=re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("splattwin "):
                found.append(line)
    return found


DOCUMENTED = [path for path in DOCS if commands(path)]


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCUMENTED, ids=[p.name for p in DOCUMENTED])
def test_every_documented_command_runs_as_written(doc: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "usd_assets").symlink_to(REPO / "usd_assets", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    for line in commands(doc):
        code = main(shlex.split(line)[1:])
        captured = capsys.readouterr()
        assert code == 0, f"{doc.name}: `{line}` exited {code}: {captured.err}"


def test_every_verb_is_documented_with_a_command() -> None:
    documented = {shlex.split(line)[1] for path in DOCS for line in commands(path)}
    verbs = {name.replace("_", "-") for name in VERB_MODULES}
    assert verbs <= documented, f"verbs without a documented command: {sorted(verbs - documented)}"


def test_material_table_in_the_formats_page_is_the_codes() -> None:
    text = (REPO / "docs" / "formats.md").read_text()
    table = text.split("<!-- materials:begin -->")[1].split("<!-- materials:end -->")[0]
    rows = [line for line in table.strip().splitlines()[2:] if line.startswith("|")]
    documented = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        documented[cells[0].strip("`")] = cells[1:]
    assert set(documented) == set(MATERIALS)
    for name, material in MATERIALS.items():
        density, spread, static, dynamic, bounce = documented[name]
        assert float(density) == material.density_kg_m3
        assert float(spread.strip("±%")) == pytest.approx(100 * material.density_relative_uncertainty)
        assert (float(static), float(dynamic), float(bounce)) == (
            material.static_friction,
            material.dynamic_friction,
            material.restitution,
        )


def test_readme_states_the_units_limits_of_the_code() -> None:
    assert f"beyond {HARD_BODY_SIZE_M:g} m or {HARD_MASS_KG:g} kg is refused" in (REPO / "README.md").read_text()


def test_formats_page_names_every_suffix_that_is_read() -> None:
    section = (REPO / "docs" / "formats.md").read_text().split("## What is read, and what is not")[1]
    for suffix in (*GAUSSIAN_SUFFIXES, *SUPPORTED_MESH_SUFFIXES):
        assert f"`{suffix}`" in section, suffix
