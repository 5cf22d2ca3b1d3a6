"""Tests of splattwin.mesh.materials: the table's physical sanity, look-ups and the volume x density prior."""

import json
import math

import pytest
import trimesh

from splattwin.errors import InputError
from splattwin.mesh import MATERIALS, MassPrior, PhysicsMaterial, clean_mesh, get_material, mass_prior

REQUIRED = [
    "wood", "oak", "pine", "plastic", "abs", "pla", "rubber", "aluminium", "steel",
    "glass", "ceramic", "cardboard", "foam", "concrete", "paper",
]  # fmt: skip


def test_table_has_the_required_materials_and_each_is_physical():
    assert set(REQUIRED) <= set(MATERIALS)
    for key, material in MATERIALS.items():
        assert material.name == key
        material.validate()
        assert material.notes


@pytest.mark.parametrize(
    ("name", "low", "high"),
    # Broad ranges from engineering tables [kg/m^3]; a typo in the table (a lost digit, g/cm^3) falls outside.
    [
        ("steel", 7700, 8100),
        ("aluminium", 2600, 2850),
        ("glass", 2300, 2900),
        ("abs", 1000, 1100),
        ("pla", 1200, 1300),
        ("oak", 550, 900),
        ("pine", 350, 650),
        ("concrete", 2200, 2600),
        ("foam", 10, 100),
    ],
)
def test_densities_lie_in_table_ranges(name, low, high):
    assert low <= MATERIALS[name].density_kg_m3 <= high


def test_steel_cube_of_10_cm_weighs_7_85_kg():
    # 0.1^3 m^3 x 7850 kg/m^3 = 7.85 kg
    prior = mass_prior(0.1**3, "steel")

    assert prior.mass_kg == pytest.approx(7.85)
    assert prior.volume_m3 == pytest.approx(1e-3)
    assert prior.density_kg_m3 == 7850.0
    assert prior.material == "steel"
    assert prior.method == "volume x density"
    assert 0 < prior.relative_uncertainty < 0.05


def test_prior_from_a_cleaned_mesh_volume():
    _, report = clean_mesh(trimesh.creation.box(extents=[0.1, 0.2, 0.05]))

    prior = mass_prior(report.volume_m3, get_material("aluminium"))

    assert prior.mass_kg == pytest.approx(0.1 * 0.2 * 0.05 * 2700.0)  # 2.7 kg


def test_wood_prior_is_less_certain_than_metal():
    assert mass_prior(1e-3, "wood").relative_uncertainty >= 0.25
    assert mass_prior(1e-3, "wood").relative_uncertainty > mass_prior(1e-3, "steel").relative_uncertainty


def test_lookup_ignores_case_spaces_and_accepts_aliases():
    assert get_material("  STEEL ") is MATERIALS["steel"]
    assert get_material("Aluminum") is MATERIALS["aluminium"]
    assert get_material("Stainless-Steel") is MATERIALS["stainless_steel"]


def test_unknown_material_lists_known_names():
    with pytest.raises(InputError, match="unknown material 'unobtainium'") as caught:
        get_material("unobtainium")
    for name in REQUIRED:
        assert name in str(caught.value)
    with pytest.raises(InputError, match="unobtainium"):
        mass_prior(1.0, "unobtainium")


@pytest.mark.parametrize("volume", [0.0, -1e-3, math.nan, math.inf])
def test_bad_volumes_are_rejected(volume):
    with pytest.raises(InputError, match="volume_m3"):
        mass_prior(volume, "steel")


def test_validate_rejects_impossible_materials():
    good = dict(
        name="x",
        density_kg_m3=1000.0,
        density_relative_uncertainty=0.1,
        static_friction=0.5,
        dynamic_friction=0.4,
        restitution=0.5,
        notes="test",
    )
    PhysicsMaterial(**good).validate()
    for change in [
        {"density_kg_m3": 0.0},
        {"density_kg_m3": math.nan},
        {"dynamic_friction": 0.6},
        {"restitution": 1.5},
        {"density_relative_uncertainty": -0.1},
    ]:
        with pytest.raises(InputError, match="material 'x'"):
            PhysicsMaterial(**{**good, **change}).validate()


def test_to_dict_is_json():
    prior = mass_prior(2e-3, "pla")
    data = json.loads(json.dumps(prior.to_dict()))
    assert data["mass_kg"] == pytest.approx(2.48)
    assert MassPrior(**data) == prior
    assert json.loads(json.dumps(MATERIALS["rubber"].to_dict()))["static_friction"] == 0.9
