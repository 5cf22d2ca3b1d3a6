"""Consent, interrupts and the verbs' edges (issue 22, items 9, 12, 13, 14 and 16's ``-v``).

- Outputs a user names (``render --out``, ``identify-mass --report``, ``trajectory export``) are refused when they
  exist, unless ``--force``, and the refusal writes nothing.
- Ctrl-C is a real SIGINT sent to a ``splattwin`` subprocess while it works (a profile hook writes a marker file
  when the verb reaches a function deep in its work; the test waits for the marker, then signals): one
  ``interrupted: ...`` line on stderr, exit 130, no traceback, the twin's files unchanged byte for byte.
- ``make demo`` runs again (finished or interrupted before), while a twin the demo did not build is refused.
- No CUDA: ``--backend gsplat`` and ``device=cuda`` are one-line errors; training JSON is strict; resuming to a total
  already reached is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import file_bytes, random_gaussians
from tasks_support import ROOT

# isort: split
import splattwin
from splattwin.cli import build_parser, main
from splattwin.io import write_gaussians

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a subprocess is POSIX")

ASSETS = ROOT / "usd_assets" / "tabletop"
VIEW = ["--view", "2,-1.5,0.9", "0.35,0.25,-0.2"]
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(Path(splattwin.__file__).parents[1]), str(ROOT / "tasks")]),
    "PYTHONWARNINGS": "ignore",  # a verb's own warnings (e.g. the prior mass) are not part of the interrupt's line
}
FAST_DEMO = ["previews=false", "identify=false", "robot.enabled=false"]
EXIT_INTERRUPTED = 128 + signal.SIGINT  # what a shell reports for a command Ctrl-C stopped


def _strict_json(text: str) -> object:
    """``json.loads`` that refuses ``NaN`` / ``Infinity`` (Python's json reads them; no other parser does)."""

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> Path:
    """The README's twin: the sample splat and meshes aligned, the Panda imported, the wave keyed on it."""
    root = tmp_path_factory.mktemp("twin")
    stage = str(root / "twin.usda")
    steps = [
        ["import-splat", str(ASSETS / "tabletop.ply"), "--stage", stage, "--prim", "/World/Scene/Splat"],
        ["import-mesh", str(ASSETS / "scene.obj"), "--stage", stage, "--prim", "/World/Scene/Static"],
        ["import-mesh", str(ASSETS / "block.obj"), "--stage", stage, "--prim", "/World/Objects/Block", "--dynamic"],
        ["align", "--stage", stage, "--up-axis", "y", "--table", "auto"]
        + ["--scale-from", "3.122894,-0.049246,3.391272", "1.482622,0.045655,1.053802", "1.2"]
        + ["--origin", "0.744293,-0.118636,3.311414"],
        ["import-robot", "pybullet_data:franka_panda/panda.urdf", "--stage", stage, "--prim", "/World/Robot"],
        ["trajectory", "import", str(ASSETS / "panda_wave.csv"), "--stage", stage, "--robot", "/World/Robot"],
    ]
    for argv in steps:
        assert main(argv) == 0, argv
    return Path(stage)


@pytest.fixture
def copy(twin: Path, tmp_path: Path) -> Path:
    """A private copy of the twin (its folder), so a test that breaks it breaks only itself."""
    shutil.copytree(twin.parent, tmp_path / "twin")
    return tmp_path / "twin" / twin.name


# --- 9: consent for every output ------------------------------------------------------------------------------
def _one_error(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    return err


def test_render_refuses_existing_outputs_without_force(copy: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "view.png"
    render = ["render", "--stage", str(copy), *VIEW, "--out", str(out), "--size", "32x24"]
    assert main([*render, "--depth"]) == 0
    first = file_bytes(tmp_path)
    assert main([*render, "--size", "48x36"]) == 2  # a different image would replace the first
    assert "view.png: exists; give --force to overwrite it" in _one_error(capsys)
    # --depth adds view_depth.png, which exists too; a new --out whose depth file exists is refused as well
    (tmp_path / "other_depth.png").write_bytes(b"someone's")
    assert main([*render[:-4], "--out", str(tmp_path / "other.png"), "--depth", "--size", "32x24"]) == 2
    assert "other_depth.png: exists" in _one_error(capsys)
    assert file_bytes(tmp_path) == {**first, "other_depth.png": b"someone's"}
    assert main([*render, "--size", "48x36", "--force"]) == 0
    assert (tmp_path / "view.png").read_bytes() != first["view.png"]


def test_trajectory_export_and_identify_report_refuse_existing_files(copy: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "wave.csv"
    export = ["trajectory", "export", "--stage", str(copy), "--robot", "/World/Robot", str(out)]
    assert main([*export, "--rate", "10"]) == 0
    written = out.read_bytes()
    assert main([*export, "--rate", "20"]) == 2
    assert "wave.csv: exists; give --force to overwrite it" in _one_error(capsys)
    assert out.read_bytes() == written
    assert main([*export, "--rate", "20", "--force"]) == 0
    assert len(out.read_text().splitlines()) > len(written.decode().splitlines())  # 20 Hz: more rows than 10 Hz
    # identify-mass: the demo's report (and the plots beside it) is someone's file; refused before any fit
    report = tmp_path / "identify.json"
    report.write_text('{"mass_kg": 0.3}')
    (tmp_path / "identify_loss.png").write_bytes(b"plot")
    before, twin_before = file_bytes(tmp_path), file_bytes(copy.parent)
    logs = [str(ASSETS / "pushes" / "push_0")]
    identify = ["identify-mass", "--stage", str(copy), "--object", "/World/Objects/Block", "--log", *logs]
    assert main([*identify, "--report", str(report)]) == 2
    assert "identify.json: exists; give --force to overwrite it" in _one_error(capsys)
    report.unlink()
    assert main([*identify, "--report", str(report)]) == 2  # its plot is there too
    assert "identify_loss.png: exists" in _one_error(capsys)
    assert file_bytes(tmp_path) == {k: v for k, v in before.items() if k != "identify.json"}
    assert file_bytes(copy.parent) == twin_before


# --- 12: Ctrl-C -----------------------------------------------------------------------------------------------
_AT = textwrap.dedent(
    """
    import os, signal, sys, time
    marker, target, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    def hook(frame, event, arg):
        if event == "call" and frame.f_code.co_name == target:
            sys.setprofile(None)
            open(marker, "w").close()
            if mode == "swallow":  # what OpenUSD's C++ does to a Python error raised inside its callbacks
                try:
                    os.kill(os.getpid(), signal.SIGINT)
                    time.sleep(5)
                except KeyboardInterrupt:
                    pass
    sys.setprofile(hook)
    from splattwin.cli import main
    sys.exit(main(sys.argv[4:]))
    """
)


def _interrupt_at(target: str, argv: list[str], tmp_path: Path, *, swallow: bool = False) -> tuple[int, str, str]:
    """Run ``splattwin ARGV``; when it calls the function named ``target``, Ctrl-C it (or, ``swallow``: it
    interrupts itself there and swallows the ``KeyboardInterrupt``). Returns (exit code, stdout, stderr)."""
    marker = tmp_path / f"reached-{target}"
    command = [sys.executable, "-c", _AT, str(marker), target, "swallow" if swallow else "plain", *argv]
    process = subprocess.Popen(command, env=ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not swallow:
        while not marker.exists():
            if process.poll() is not None:
                out, err = process.communicate()
                pytest.fail(f"{argv[0]} ended ({process.returncode}) before reaching {target}: {err[-2000:]}")
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=300)
    assert marker.exists(), f"{argv[0]} never reached {target}"
    return process.returncode, out, err


def _assert_interrupted(code: int, err: str, expected: str) -> None:
    assert code == EXIT_INTERRUPTED, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("interrupted: ") and expected in err, err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("verb", "target", "argv"),
    [
        ("import-robot", "author_robot", ["pybullet_data:franka_panda/panda.urdf", "--prim", "/World/Robot2"]),
        ("import-splat", "import_splat", [str(ASSETS / "tabletop.ply"), "--prim", "/World/Scene/Again"]),
        (
            "identify-mass",
            "identify_mass",
            ["--object", "/World/Objects/Block", "--log", str(ASSETS / "pushes/push_0")],
        ),
    ],
    ids=["import-robot", "import-splat", "identify-mass"],
)
def test_ctrl_c_while_editing_leaves_the_twin_byte_for_byte(copy, tmp_path, verb, target, argv) -> None:
    before = file_bytes(copy.parent)
    extra = ["--report", str(tmp_path / "identify.json")] if verb == "identify-mass" else []
    code, _, err = _interrupt_at(target, [verb, *argv, "--stage", str(copy), *extra], tmp_path)
    _assert_interrupted(code, err, "nothing written")
    assert file_bytes(copy.parent) == before
    assert not (tmp_path / "identify.json").exists()


@pytest.mark.slow
def test_ctrl_c_swallowed_by_a_native_library_still_stops_the_import(copy, tmp_path) -> None:
    """import-robot used to finish and exit 0 after Ctrl-C: OpenUSD swallowed the KeyboardInterrupt."""
    before = file_bytes(copy.parent)
    argv = ["import-robot", "pybullet_data:franka_panda/panda.urdf", "--stage", str(copy), "--prim", "/World/R2"]
    code, out, err = _interrupt_at("author_robot", argv, tmp_path, swallow=True)
    _assert_interrupted(code, err, "nothing written")
    assert "imported" not in out
    assert file_bytes(copy.parent) == before


@pytest.mark.slow
def test_ctrl_c_while_rendering_a_video_writes_nothing(copy, tmp_path) -> None:
    renders = tmp_path / "renders"
    renders.mkdir()
    before = file_bytes(copy.parent)
    argv = ["render", "--stage", str(copy), *VIEW, "--trajectory", "stage", "--out", str(renders / "wave.mp4")]
    code, _, err = _interrupt_at("render_view", [*argv, "--size", "320x240"], tmp_path)
    _assert_interrupted(code, err, "nothing written")
    assert list(renders.iterdir()) == []  # no video, no frames folder, no staging folder
    assert file_bytes(copy.parent) == before


@pytest.mark.slow
def test_ctrl_c_while_training_says_what_was_kept(copy, tmp_path) -> None:
    before = file_bytes(copy.parent)
    log_dir = tmp_path / "run"
    argv = ["train", "task=SplatTwin-Lift-Franka-v0", f"twin={copy}", f"log_dir={log_dir}", "num_envs=2"]
    code, _, err = _interrupt_at("learn", [*argv, "max_iterations=500", "progress=false"], tmp_path)
    _assert_interrupted(code, err, str(log_dir))
    assert "resume=true continues" in err or "no checkpoint was written yet" in err
    assert file_bytes(copy.parent) == before
    for path in log_dir.glob("*.json"):
        _strict_json(path.read_text())  # whole files only


def test_interrupt_after_a_write_names_what_was_kept(copy, tmp_path, monkeypatch, capsys) -> None:
    """Ctrl-C between two outputs of one render: the finished RGB stays (whole), the depth was never written."""
    import splattwin.pipelines.render as render

    def interrupted(path, depth) -> None:  # noqa: ANN001
        raise KeyboardInterrupt

    monkeypatch.setattr(render, "write_depth_png", interrupted)
    out = tmp_path / "v.png"
    assert main(["render", "--stage", str(copy), *VIEW, "--out", str(out), "--size", "32x24", "--depth"]) == 130
    err = capsys.readouterr().err
    assert err == f"interrupted: kept {out} (written whole before the interrupt); nothing else written\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["twin", "v.png"]


# --- 13: the demo reruns ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_demo_runs_again_after_a_finished_and_an_interrupted_run(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *FAST_DEMO]) == 0
    assert main(["demo", "--out", str(out), *FAST_DEMO]) == 0, capsys.readouterr().err  # `make demo` twice
    # Ctrl-C in the middle (aligning): the folder is the demo's partial twin, and the next run rebuilds it.
    code, _, err = _interrupt_at("align_twin", ["demo", "--out", str(out), *FAST_DEMO], tmp_path)
    _assert_interrupted(code, err, "partial demo twin")
    assert not (out / "report.md").exists()  # the report of the twin that is gone was dropped
    capsys.readouterr()
    assert main(["demo", "--out", str(out), *FAST_DEMO]) == 0, capsys.readouterr().err
    assert (out / "report.md").read_text().startswith("# SplatTwin demo report")
    # A person's edit of the demo's twin: the demo no longer rebuilds it without --force.
    write_gaussians(tmp_path / "mine.ply", random_gaussians(50, degree=0))
    assert (
        main(["import-splat", str(tmp_path / "mine.ply"), "--stage", str(out / "twin.usda"), "--prim", "/World/M"]) == 0
    )
    before = file_bytes(out)
    capsys.readouterr()
    assert main(["demo", "--out", str(out), *FAST_DEMO]) == 2
    assert "edited since the demo built it" in _one_error(capsys)
    assert file_bytes(out) == before


@pytest.mark.slow
def test_demo_rebuilds_a_folder_it_built_before_it_marked_its_folders(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *FAST_DEMO]) == 0
    (out / ".splattwin-demo.json").unlink()  # as an earlier version of the demo left it
    assert main(["demo", "--out", str(out), *FAST_DEMO]) == 0


def test_demo_refuses_a_twin_it_did_not_build(tmp_path: Path, capsys) -> None:
    out = tmp_path / "mine"
    write_gaussians(tmp_path / "mine.ply", random_gaussians(50, degree=0))
    assert (
        main(["import-splat", str(tmp_path / "mine.ply"), "--stage", str(out / "twin.usda"), "--prim", "/World/M"]) == 0
    )
    before = file_bytes(out)
    capsys.readouterr()
    assert main(["demo", "--out", str(out), *FAST_DEMO]) == 2
    assert "already holds a twin (twin.usda) the demo did not build; give --force" in _one_error(capsys)
    assert file_bytes(out) == before


# --- 14: no CUDA, strict JSON, resume ------------------------------------------------------------------------
def _no_cuda(monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_gsplat_backend_without_cuda_is_one_line(copy: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    _no_cuda(monkeypatch)
    out = tmp_path / "g.png"
    assert (
        main(["render", "--stage", str(copy), *VIEW, "--out", str(out), "--size", "32x24", "--backend", "gsplat"]) == 2
    )
    assert "--backend: gsplat renders on a CUDA GPU" in _one_error(capsys)
    assert not out.exists()


@pytest.mark.slow
def test_training_without_cuda_strict_json_and_resume_to_a_reached_total(copy, tmp_path, monkeypatch, capsys) -> None:
    log_dir = tmp_path / "run"
    args = [
        "train",
        "task=SplatTwin-Lift-Franka-v0",
        f"twin={copy}",
        f"log_dir={log_dir}",
        "num_envs=2",
        "progress=false",
    ]
    with monkeypatch.context() as patched:
        _no_cuda(patched)
        assert main([*args, "device=cuda", "max_iterations=1"]) == 2
        assert "device: 'cuda' needs a CUDA GPU" in _one_error(capsys)
    assert not log_dir.exists()
    # One iteration ends no episode (Lift's episodes are longer than a rollout): no mean return yet.
    assert main([*args, "max_iterations=1"]) == 0
    summary = _strict_json(capsys.readouterr().out)
    curve = _strict_json((log_dir / "curve.json").read_text())
    _strict_json((log_dir / "resolved_config.json").read_text())
    assert curve["iterations"] == [0] and curve["mean_return"] == [None]
    assert summary["mean_return_last"] is None and summary["iterations"] == 1
    # The checkpoint has 1 iteration done; max_iterations=1 is the total to reach: nothing would run.
    before = file_bytes(log_dir)
    assert main([*args, "resume=true", "max_iterations=1"]) == 2
    err = _one_error(capsys)
    assert "max_iterations" in err and "nothing would run" in err and "greater than 1" in err
    assert file_bytes(log_dir) == before


# --- the one override parser, 16's -v ---------------------------------------------------------------------------
def test_train_and_demo_share_the_override_parser(capsys) -> None:
    from splattwin_tasks import training
    from splattwin_tasks.training import TrainConfig

    from splattwin.overrides import parse_overrides

    assert training.parse_overrides is parse_overrides  # one parser: the task package uses the core's

    assert main(["train", "num_env=3"]) == 2  # the demo's suggestion, now for train too
    assert "unknown key 'num_env'; did you mean 'num_envs'?" in _one_error(capsys)
    assert main(["play", "checkpoint"]) == 2
    assert "expected key=value" in _one_error(capsys)
    config = parse_overrides(TrainConfig, ["env.fixed_mass_kg=0.3", "agent.algorithm.learning_rate=3e-4"])
    assert config.env == {"fixed_mass_kg": 0.3} and config.agent == {"algorithm": {"learning_rate": 3e-4}}
    assert main(["demo", "--out", "x", "out=y"]) == 2
    assert "give the output folder with --out" in _one_error(capsys)


def test_demo_config_is_package_data_with_one_source(tmp_path: Path) -> None:
    """A non-editable install (the package copied elsewhere, no checkout around it) reads its own demo.yaml."""
    packaged = Path(splattwin.__file__).parent / "config" / "demo.yaml"
    assert (ROOT / "config" / "demo.yaml").samefile(packaged)  # the top-level file people edit is the package's
    site = tmp_path / "site"
    shutil.copytree(Path(splattwin.__file__).parent, site / "splattwin", symlinks=False)
    copied = site / "splattwin" / "config" / "demo.yaml"
    copied.write_text(copied.read_text().replace("claim_margin_m: 0.005", "claim_margin_m: 0.0123"))
    script = "from pathlib import Path; from splattwin.pipelines.demo import load_demo_config; "
    script += "print(load_demo_config(Path('o')).claim_margin_m)"
    env = {**ENV, "PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) == 0.0123


def test_verbose_after_a_sub_verb() -> None:
    parser = build_parser()
    common = ["--stage", "t.usda", "--robot", "/World/Robot"]
    assert parser.parse_args(["trajectory", "export", *common, "o.csv", "-v"]).verbose is True
    assert parser.parse_args(["trajectory", "check", "-v", *common]).verbose is True
    assert parser.parse_args(["trajectory", "-v", "check", *common]).verbose is True
    assert parser.parse_args(["-v", "trajectory", "check", *common]).verbose is True
    assert parser.parse_args(["trajectory", "check", *common]).verbose is False
