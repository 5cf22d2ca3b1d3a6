"""GraspMLP, its losses and phases, the success rule, the sampler and the demonstrations' format: fast, no twin."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from splattwin_tasks.grasp import dataset as gd
from splattwin_tasks.grasp.model import (
    GraspBatch,
    GraspMLP,
    GraspOutput,
    Phase2Cfg,
    dream_force_target,
    grip_force_from_head,
    phase1_losses,
    positional_encoding,
    refine,
)
from splattwin_tasks.grasp.sampler import sample_antipodal
from splattwin_tasks.grasp.trials import TrialCfg, judge
from tasks_support import ROOT  # noqa: F401  (puts tasks/ on the path when it is not installed)

from splattwin.errors import InputError

G = 9.81


def _cloud(b: int = 3, p: int = 16, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.tensor([0.3, 0.35, 0.03]) + 0.03 * torch.randn(b, p, 3, generator=g)


def test_network_heads_have_the_documented_shapes_and_ranges() -> None:
    torch.manual_seed(0)
    net = GraspMLP(use_mass=True, point_width=16, width=32)
    centre, joints, logits, force = net(_cloud(), torch.tensor([[math.log(0.2), 0.1]] * 3))
    assert centre.shape == (3, 3) and joints.shape == (3, 9) and logits.shape == (3, 2) and force.shape == (3,)
    assert ((force > 0) & (force < 1)).all()
    # The centre head is relative to the points: moving the object by 5 cm moves the predicted centre with it.
    shifted = net(_cloud() + torch.tensor([0.05, 0.0, 0.0]), torch.tensor([[math.log(0.2), 0.1]] * 3))[0]
    assert torch.allclose(shifted - centre, torch.tensor([0.05, 0.0, 0.0]).expand(3, 3), atol=0.01)


def test_mass_input_reaches_the_outputs_only_of_the_conditioned_network() -> None:
    torch.manual_seed(0)
    with_mass, without = (
        GraspMLP(use_mass=True, point_width=16, width=32),
        GraspMLP(use_mass=False, point_width=16, width=32),
    )
    light, heavy = torch.tensor([[math.log(0.05), 0.1]] * 3), torch.tensor([[math.log(2.0), 0.1]] * 3)
    assert not torch.allclose(with_mass(_cloud(), light)[3], with_mass(_cloud(), heavy)[3])
    assert torch.equal(without(_cloud(), light)[3], without(_cloud(), heavy)[3])
    assert torch.equal(without(_cloud(), None)[3], without(_cloud(), heavy)[3])
    with pytest.raises(ValueError, match="mass"):
        with_mass(_cloud(), None)


def test_positional_encoding_matches_hand_values() -> None:
    out = positional_encoding(torch.tensor([[0.25, -0.5]]), 2)
    s, c = math.sin, math.cos
    expected = [
        0.25,
        -0.5,
        s(math.pi / 4),
        s(-math.pi / 2),
        s(math.pi / 2),
        s(-math.pi),
        c(math.pi / 4),
        c(-math.pi / 2),
    ]
    expected += [c(math.pi / 2), c(-math.pi)]
    assert torch.allclose(out[0], torch.tensor(expected), atol=1e-6)


def test_dream_force_target_and_the_grip_map_against_hand_values() -> None:
    # 0.2 kg, 2 contacts, f_max 40 N: 0.2 * 9.81 * 2 / 40 = 0.0981; 5 kg clips at 1.
    assert dream_force_target(torch.tensor([0.2, 5.0]), torch.tensor([2.0, 2.0]), 40.0).tolist() == pytest.approx(
        [0.0981, 1.0], abs=1e-6
    )
    # DREAM's label for 0.18 kg on mu 0.3 pads: F = sqrt(3) m g / (2 mu) = 1.7320508 * 0.18 * 9.81 / 0.6 = 5.0974 N,
    # the log-centre of the window [m g / (2 mu), 3 m g / (2 mu)] = [2.943, 8.829] N.
    label = dream_force_target(torch.tensor(0.18), torch.tensor(2.0), 40.0)
    force = float(grip_force_from_head(label, f_max_n=40.0, friction=0.3))
    assert force == pytest.approx(5.0974, abs=1e-3)
    assert force == pytest.approx(math.sqrt(2.943 * 8.829), rel=1e-3)


class _Fixed:
    """A stand-in network with fixed outputs, so the losses can be checked by hand."""

    def __init__(self, out: GraspOutput) -> None:
        self.out = out

    def predict(self, points, mass):  # noqa: ANN001, ANN201, ARG002
        return self.out


def test_phase1_losses_against_hand_computed_values() -> None:
    out = GraspOutput(
        centre=torch.tensor([[0.01, 0.0, 0.0], [0.5, 0.5, 0.5]]),
        joints=torch.tensor([[0.1] * 9, [9.0] * 9]),
        contact_logits=torch.tensor([[0.0, 2.0], [1.0, -1.0]]),
        force=torch.tensor([0.2, 0.9]),
    )
    batch = GraspBatch(
        points=torch.zeros(2, 4, 3),
        mass=torch.zeros(2, 2),
        mass_kg=torch.tensor([0.2, 0.2]),
        centre=torch.zeros(2, 3),
        joints=torch.zeros(2, 9),
        contacts=torch.tensor([2.0, 2.0]),
        labels=torch.tensor([[1.0, 1.0], [1.0, 0.0]]),  # the second demonstration failed: no action or force loss
    )
    losses = phase1_losses(_Fixed(out), batch, f_max_n=40.0, force_weight=100.0)
    # pose: (1 cm / 1 cm)^2 on x, 0 on y, z -> mean 1/3; joints: (0.1 / 0.1)^2 = 1.
    assert float(losses["action"]) == pytest.approx(1 / 3 + 1.0, rel=1e-5)
    # BCE of logits [[0, 2], [1, -1]] against [[1, 1], [1, 0]]: -log(sigmoid(z)) for 1, -log(1 - sigmoid(z)) for 0.
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    bce = (-math.log(sig(0)) - math.log(sig(2)) - math.log(sig(1)) - math.log(1 - sig(-1))) / 4
    assert float(losses["contact"]) == pytest.approx(bce, rel=1e-5)
    # force: 100 * (0.2 - 0.0981)^2 for the successful demonstration only.
    assert float(losses["force"]) == pytest.approx(100 * (0.2 - 0.0981) ** 2, rel=1e-4)
    assert float(losses["total"]) == pytest.approx(float(losses["action"] + losses["contact"] + losses["force"]))


def _target_rollout(target_x: float):  # noqa: ANN202
    """A stand-in twin: a grasp holds when its centre is within 6 mm of ``target_x`` along x."""

    def rollout(rows, centres, forces):  # noqa: ANN001, ANN202, ARG001
        success = (np.abs(centres[:, 0] - target_x) < 0.006).astype(float)
        return {"success": success, "contact_sustained": success, "contacts": np.full(len(rows), 2.0)}

    return rollout


@pytest.mark.parametrize("policy_gradient", [True, False])
def test_phase2_moves_the_actions_only_with_the_policy_gradient(policy_gradient: bool) -> None:
    torch.manual_seed(0)
    net = GraspMLP(use_mass=True, point_width=16, width=32)
    points = _cloud(8, 16)
    batch = GraspBatch(
        points=points,
        mass=torch.tensor([[math.log(0.2), 0.1]] * 8),
        mass_kg=torch.full((8,), 0.2),
        centre=torch.zeros(8, 3),
        joints=torch.zeros(8, 9),
        contacts=torch.full((8,), 2.0),
        labels=torch.ones(8, 2),
    )
    with torch.no_grad():
        before = net(batch.points, batch.mass)[0][:, 0]
    target = float(before.mean()) + 0.008
    pose_before = net.pose_head.weight.detach().clone()
    cfg = Phase2Cfg(iterations=60, rollouts=64, lr=3e-3, policy_gradient=policy_gradient, seed=1)
    rates = refine(net, batch, _target_rollout(target), cfg, f_max_n=40.0, friction=0.3)
    with torch.no_grad():
        after = net(batch.points, batch.mass)[0][:, 0]
    if policy_gradient:
        assert abs(float(after.mean()) - target) < 0.4 * abs(float(before.mean()) - target)
        assert np.mean(rates[-10:]) > np.mean(rates[:10]) + 0.2
    else:  # DREAM's phase 2: the actions are detached, the pose head gets no gradient at all
        assert torch.equal(net.pose_head.weight, pose_before)


def _traces(k: int = 4, steps: int = 10):  # noqa: ANN202
    height = np.full((steps, k), 0.03)
    height[4:] = 0.03 + 0.07  # lifted by step 4 (lift starts at 2, hold at 5)
    return height, np.zeros((steps, k, 3)), np.full((steps, k), 5.8), np.full((steps, k), 2)


def test_success_rule_on_hand_made_slip_crush_and_drop() -> None:
    height, in_hand, force, contacts = _traces()
    in_hand[7:, 1, 2] = -0.008  # trial 1 slides 8 mm down the pads during the hold
    force[3, 2] = 6.0  # trial 2 squeezes over the ceiling 3 * 0.2 * 9.81 / (2 * 0.5) = 5.886 N once
    height[-1, 3] = 0.031  # trial 3 dropped the object
    contacts[-1, 3] = 0
    out = judge(
        object_height_m=height,
        in_hand_m=in_hand,
        grip_force_n=force,
        pad_contacts=contacts,
        hold_start=5,
        lift_start=2,
        rest_height_m=0.03,
        mass_kg=0.2,
        friction=0.5,
        cfg=TrialCfg(lift_m=0.06, slip_tol_m=0.005, ceiling_ratio=3.0),
    )
    assert out.success.tolist() == [True, False, False, False]
    assert out.slipped.tolist() == [False, True, False, False]
    assert out.crushed.tolist() == [False, False, True, False]
    assert out.lifted.tolist() == [True, True, True, False]
    assert out.contact_sustained.tolist() == [True, True, True, False]
    assert out.failure_counts() == {"crushed": 1, "slipped": 1, "dropped": 1}
    assert out.slip_m[1] == pytest.approx(0.008)


def _box(x: float, y: float, z: float) -> tuple[np.ndarray, np.ndarray]:
    import trimesh

    mesh = trimesh.creation.box((x, y, z))
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def test_sampler_finds_the_antipodal_pairs_of_a_box_across_its_closing_axis() -> None:
    vertices, faces = _box(0.04, 0.06, 0.07)
    candidates, counts = sample_antipodal(
        vertices, faces, friction=0.3, closing_axis=np.array([1.0, 0, 0]), samples=600
    )
    assert len(candidates) == counts.kept > 100
    assert np.allclose(candidates.widths, 0.04, atol=1e-9)
    assert np.allclose(np.abs(candidates.axes[:, 0]), 1.0)
    assert np.allclose(candidates.centres[:, 0], 0.0, atol=1e-9)
    # The 6 and 7 cm pairs fit the 8 cm opening too, but the hand does not close along them.
    assert counts.off_axis > 0 and counts.too_wide == counts.too_narrow == 0


def test_sampler_reports_objects_too_large_or_too_thin_with_counts() -> None:
    vertices, faces = _box(0.1, 0.12, 0.09)
    with pytest.raises(InputError, match=r"too large for the gripper.*too wide") as error:
        sample_antipodal(vertices, faces, friction=0.3, samples=300)
    assert "300 surface points sampled: 0 antipodal candidates kept" in str(error.value)
    vertices, faces = _box(0.004, 0.2, 0.2)
    with pytest.raises(InputError, match="too thin"):
        sample_antipodal(vertices, faces, friction=0.3, closing_axis=np.array([1.0, 0, 0]), samples=300)


def _dataset(d: int = 4) -> gd.GraspDataset:
    rng = np.random.default_rng(0)
    pose = np.tile([0.3, 0.35, 0.03, 1.0, 0.0, 0.0, 0.0], (d, 1))
    return gd.GraspDataset(
        objects=np.array(["/World/Objects/Block"]),
        object_points=rng.uniform(-0.03, 0.03, (1, 16, 3)),
        object_index=np.zeros(d, dtype=np.int64),
        object_pose=pose,
        mass_kg=np.full(d, 0.18),
        mass_rel_uncertainty=np.full(d, 0.1),
        pregrasp_pose=pose.copy(),
        joint_targets=np.tile([0.1, 0.2, 0.0, -2.0, 0.0, 2.0, 0.7, 0.04, 0.04], (d, 1)),
        grip_force_n=np.linspace(2.0, 8.0, d),
        contacts=np.full(d, 2),
        outcome=np.array([1, 0, 1, 1])[:d],
        contact_sustained=np.ones(d, dtype=np.int64),
        source=np.full(d, "twin"),
    )


def test_dataset_round_trip_and_external_files_with_only_the_required_arrays(tmp_path) -> None:
    ds = _dataset()
    back = gd.load_demonstrations(gd.save_demonstrations(ds, tmp_path / "d.npz"))
    assert np.array_equal(back.grip_force_n, ds.grip_force_n) and list(back.objects) == list(ds.objects)
    required = ("objects", "object_points", "object_index", "object_pose", "mass_kg", "pregrasp_pose", "grip_force_n")
    np.savez(tmp_path / "ext.npz", format=np.array(gd.FORMAT), **{k: getattr(ds, k) for k in required})
    ext = gd.load_demonstrations(tmp_path / "ext.npz")
    assert np.isnan(ext.joint_targets).all() and (ext.outcome == 1).all() and (ext.source == "external").all()
    merged = gd.concatenate([ds, ext])
    assert len(merged) == 8 and len(merged.objects) == 1
    other = _dataset()
    other.objects, other.object_points = np.array(["/World/Objects/Other"]), np.zeros((1, 12, 3))
    with pytest.raises(InputError, match="different numbers of surface points"):
        gd.concatenate([ds, other])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("pregrasp_pose", np.zeros((4, 6)), r"pregrasp_pose: expected shape \[4, 7\]"),
        ("object_pose", np.tile([300.0, 350.0, 30.0, 1, 0, 0, 0], (4, 1)), "millimetres"),
        ("mass_kg", np.full(4, 180.0), "grams"),
        ("grip_force_n", np.full(4, 0.5), "normalised"),
        ("grip_force_n", np.full(4, 5000.0), "millinewtons"),
        ("object_pose", np.tile([0.3, 0.35, 0.03, 2.0, 0, 0, 0], (4, 1)), "unit"),
        ("outcome", np.array([1, 2, 0, 1]), "0 or 1"),
        ("joint_targets", np.tile([0.0] * 7 + [40.0, 40.0], (4, 1)), "finger openings metres"),
    ],
)
def test_dataset_validation_names_the_file_the_field_and_the_unit(tmp_path, field, value, message) -> None:
    ds = _dataset()
    setattr(ds, field, value)
    path = tmp_path / "bad.npz"
    with pytest.raises(InputError, match=message) as error:
        gd.save_demonstrations(ds, path)
    assert str(path) in str(error.value) and not path.exists()  # validated before anything is written
    arrays = {name: getattr(ds, name) for name in ds.__dataclass_fields__}
    np.savez(path, format=np.array(gd.FORMAT), **arrays)
    with pytest.raises(InputError, match=message):
        gd.load_demonstrations(path)


def test_dataset_refuses_another_format(tmp_path) -> None:
    np.savez(tmp_path / "x.npz", format=np.array("something-else"), mass_kg=np.ones(2))
    with pytest.raises(InputError, match="format: expected 'splattwin-grasp-v1'"):
        gd.load_demonstrations(tmp_path / "x.npz")


def test_onnx_export_matches_torch(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    import onnxruntime
    from splattwin_tasks.grasp.pipeline import export_onnx

    torch.manual_seed(0)
    net = GraspMLP(use_mass=True, point_width=16, width=32).eval()
    body = np.random.default_rng(0).uniform(-0.03, 0.03, (24, 3)).astype(np.float32)
    result = export_onnx(net, {"body_points": body}, tmp_path / "p.onnx", repeats=3)
    assert max(result["max_abs_difference"].values()) < 1e-4
    # An input of another batch size than the export's, checked here independently of export_onnx's own check.
    points, mass = _cloud(5, 24, seed=3), torch.tensor([[math.log(0.5), 0.2]] * 5)
    session = onnxruntime.InferenceSession(str(tmp_path / "p.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"points": points.numpy(), "mass": mass.numpy()})
    with torch.no_grad():
        expected = net(points, mass)
    for e, g in zip(expected, got, strict=True):
        assert np.allclose(e.numpy(), g, atol=1e-5)


def test_the_conditioned_force_logit_moves_with_log_mass_one_to_one() -> None:
    """With the trunk blind to the mass, doubling the mass adds exactly log 2 to the force head's logit (the
    documented skip: the logit is predicted relative to log m)."""
    torch.manual_seed(0)
    net = GraspMLP(use_mass=True, point_width=16, width=32)
    with torch.no_grad():
        net.trunk[0].weight[:, -2:] = 0.0  # the mass columns of the trunk's input
        light = net(_cloud(), torch.tensor([[math.log(0.1), 0.1]] * 3))[3]
        heavy = net(_cloud(), torch.tensor([[math.log(0.2), 0.1]] * 3))[3]
    logit = lambda f: torch.log(f / (1 - f))  # noqa: E731
    assert torch.allclose(logit(heavy) - logit(light), torch.full((3,), math.log(2.0)), atol=1e-5)
