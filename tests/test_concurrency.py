"""Concurrent writers of one twin: no lost update, same-prim edits serialise, no deadlock, clear lock errors.

Writers are real processes (the ``splattwin`` command line or a small script) started together and released at
the same instant, so their edits overlap; the expectations (which prims exist, how many Gaussians each holds) come
from the inputs the test wrote, read back with plain OpenUSD.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import trimesh
from conftest import file_bytes, random_gaussians
from pxr import Usd, UsdGeom

import splattwin
from splattwin.cli import main
from splattwin.errors import StageError
from splattwin.io import write_gaussians
from splattwin.usd import edit_twin, open_twin
from splattwin.usd.locking import LOCK_TIMEOUT_ENV, LockHolder, lock_path, read_holder

SOURCE_ROOT = str(Path(splattwin.__file__).parents[1])

# A writer: imports everything first, then waits for the start file so all writers edit at the same moment.
_CLI_WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from splattwin.cli import main
    import splattwin.pipelines.importing  # noqa: F401  (the slow imports happen before the start signal)
    go = Path(sys.argv[1])
    while not go.exists():
        time.sleep(0.002)
    sys.exit(main(sys.argv[2:]))
    """
)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SOURCE_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _run_together(commands: list[list[str]], go: Path, timeout_s: float = 240) -> list[subprocess.CompletedProcess]:
    """Start one worker per command, release them together, and collect their results."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _CLI_WORKER, str(go), *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for command in commands
    ]
    time.sleep(0.5)
    go.touch()
    results = []
    for process, command in zip(processes, commands, strict=True):
        out, err = process.communicate(timeout=timeout_s)
        results.append(subprocess.CompletedProcess(command, process.returncode, out, err))
    return results


def _box(path: Path, centre: tuple[float, float, float], size: float) -> Path:
    box = trimesh.creation.box(extents=(size, size, size))
    box.apply_translation(centre)
    box.export(path)
    return path


@pytest.fixture
def eight_sources(tmp_path: Path) -> list[tuple[list[str], str, int | None]]:
    """(command line, prim, Gaussian count or None for a mesh) for 5 splat and 3 mesh imports into one twin."""
    jobs: list[tuple[list[str], str, int | None]] = []
    for index, suffix in enumerate((".ply", ".spz", ".splat", ".ply", ".spz")):
        count = 3000 + 500 * index
        source = tmp_path / f"splat{index}{suffix}"
        write_gaussians(source, random_gaussians(count, degree=1 if suffix == ".ply" else 0, seed=index))
        prim = f"/World/Scene/Splat{index}"
        jobs.append((["import-splat", str(source), "--stage", "STAGE", "--prim", prim], prim, count))
    for index in range(3):
        source = _box(tmp_path / f"box{index}.obj", (0.3 * index, 0.0, 0.05), 0.1)
        prim = f"/World/Objects/Box{index}"
        extra = ["--dynamic"] if index == 0 else []
        jobs.append((["import-mesh", str(source), "--stage", "STAGE", "--prim", prim, *extra], prim, None))
    return jobs


def test_eight_concurrent_imports_all_land(tmp_path: Path, eight_sources) -> None:
    """The issue's lost update: 8 writers into one (not yet existing) twin; every prim must be there afterwards."""
    stage_path = tmp_path / "twin" / "twin.usda"
    commands = [[str(stage_path) if word == "STAGE" else word for word in cmd] for cmd, _, _ in eight_sources]
    results = _run_together(commands, tmp_path / "go")
    for result in results:
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    stage = Usd.Stage.Open(str(stage_path))
    for _, prim_path, count in eight_sources:
        prim = stage.GetPrimAtPath(prim_path)
        assert prim, f"{prim_path} was lost"
        if count is not None:
            assert len(prim.GetAttribute("positions").Get()) == count
        else:
            assert UsdGeom.Mesh(prim) or prim.GetChildren()
    assert not lock_path(stage_path).exists()  # no lock file outlives the edits


def test_same_prim_imports_serialise(tmp_path: Path) -> None:
    """Four writers of the same prim: exactly one wins; the others get the clear 'already exists' error."""
    stage_path = tmp_path / "twin.usda"
    sources = []
    for index in range(4):
        source = tmp_path / f"s{index}.ply"
        write_gaussians(source, random_gaussians(1000 + 100 * index, degree=0, seed=index))
        sources.append(source)
    commands = [["import-splat", str(s), "--stage", str(stage_path), "--prim", "/World/Scene/Same"] for s in sources]
    results = _run_together(commands, tmp_path / "go")
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 2, 2, 2], [r.stderr for r in results]
    for result in results:
        if result.returncode == 2:
            assert result.stderr.count("\n") == 1 and "already exists" in result.stderr
    winner = next(index for index, r in enumerate(results) if r.returncode == 0)
    stage = Usd.Stage.Open(str(stage_path))
    positions = stage.GetPrimAtPath("/World/Scene/Same").GetAttribute("positions").Get()
    assert len(positions) == 1000 + 100 * winner  # the winner's Gaussians, whole


_NOOP_WORKER = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path
    from splattwin.usd import edit_twin
    go, stage, threads = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    errors = []
    def edit():
        try:
            with edit_twin(stage, create=False, lock_timeout_s=120):
                pass
        except Exception as exc:  # reported below; the test fails on any
            errors.append(repr(exc))
    while not go.exists():
        time.sleep(0.002)
    workers = [threading.Thread(target=edit) for _ in range(threads)]
    for w in workers: w.start()
    for w in workers: w.join()
    print(len(errors), errors)
    sys.exit(1 if errors else 0)
    """
)


def test_hundred_concurrent_noop_edits_finish(tmp_path: Path) -> None:
    """4 processes x 25 threads open the same twin for editing at once: all finish, nothing is rewritten."""
    stage_path = tmp_path / "twin.usda"
    write_gaussians(tmp_path / "s.ply", random_gaussians(100, degree=0))
    assert main(["import-splat", str(tmp_path / "s.ply"), "--stage", str(stage_path), "--prim", "/World/S"]) == 0
    before = file_bytes(tmp_path)
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _NOOP_WORKER, str(go), str(stage_path), "25"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for _ in range(4)
    ]
    time.sleep(0.5)
    go.touch()
    for process in processes:
        out, err = process.communicate(timeout=180)  # a deadlock fails here instead of hanging the suite
        assert process.returncode == 0, out + err
        assert out.startswith("0 ")
    go.unlink()
    assert file_bytes(tmp_path) == before


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from splattwin.usd.locking import twin_lock
    with twin_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def _hold_lock(stage_path: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(stage_path), str(seconds)], stdout=subprocess.PIPE, text=True, env=_env()
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.fixture
def small_twin(tmp_path: Path) -> Path:
    stage_path = tmp_path / "twin.usda"
    write_gaussians(tmp_path / "s.ply", random_gaussians(50, degree=0))
    assert main(["import-splat", str(tmp_path / "s.ply"), "--stage", str(stage_path), "--prim", "/World/S"]) == 0
    return stage_path


def test_lock_timeout_names_the_holder(small_twin: Path, caplog, monkeypatch) -> None:
    holder = _hold_lock(small_twin, 30)
    try:
        caplog.set_level(logging.WARNING)
        started = time.monotonic()
        with pytest.raises(StageError) as raised, edit_twin(small_twin, lock_timeout_s=0.5):
            pytest.fail("entered the edit although another process holds the lock")
        assert 0.4 < time.monotonic() - started < 10
        message = str(raised.value)
        assert f"pid {holder.pid}" in message and "gave up after" in message and LOCK_TIMEOUT_ENV in message
        assert "-c" in message  # the holder's command line
        assert any(f"pid {holder.pid}" in record.getMessage() for record in caplog.records)  # the waiting message
        # The environment variable works the same way, and the CLI turns it into one line and exit 2.
        monkeypatch.setenv(LOCK_TIMEOUT_ENV, "0.2")
        write_gaussians(small_twin.parent / "t.ply", random_gaussians(20, degree=0))
        before = file_bytes(small_twin.parent)
        code = main(
            ["import-splat", str(small_twin.parent / "t.ply"), "--stage", str(small_twin), "--prim", "/World/T"]
        )
        assert code == 2
        assert file_bytes(small_twin.parent) == before
        monkeypatch.setenv(LOCK_TIMEOUT_ENV, "soon")
        with pytest.raises(StageError, match=f"{LOCK_TIMEOUT_ENV}.*'soon'"), edit_twin(small_twin):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_lock_of_a_killed_holder_is_taken_over(small_twin: Path) -> None:
    """SIGKILL leaves the holder's sidecar behind; the OS lock is gone, so the next edit proceeds at once."""
    holder = _hold_lock(small_twin, 60)
    recorded = read_holder(small_twin)
    assert recorded is not None and recorded.pid == holder.pid and recorded.running() is True
    holder.kill()
    holder.wait()
    stale = read_holder(small_twin)
    assert stale is not None and stale.pid == holder.pid  # left behind by the killed process ...
    if sys.platform != "win32":
        assert stale.running() is False and "stale" in stale.describe()  # ... and reported as stale
    started = time.monotonic()
    with edit_twin(small_twin, lock_timeout_s=5) as twin:
        assert read_holder(small_twin).pid == os.getpid()  # overwritten by the new holder
        UsdGeom.Xform.Define(twin.stage, "/World/AfterKill")
    assert time.monotonic() - started < 5
    assert open_twin(small_twin).stage.GetPrimAtPath("/World/AfterKill")
    assert read_holder(small_twin) is None and not lock_path(small_twin).exists()


def test_holder_description_on_another_host() -> None:
    holder = LockHolder(pid=1, host="some-other-machine", command="splattwin import-splat x", since="t")
    assert holder.running() is None and "stale" not in holder.describe() and "some-other-machine" in holder.describe()


_OTHER_WRITER = textwrap.dedent(
    """
    import sys
    from pxr import UsdGeom
    from splattwin.usd import edit_twin
    with edit_twin(sys.argv[1], create=False) as twin, twin.edit_layer("scene"):
        UsdGeom.Xform.Define(twin.stage, sys.argv[2])
    """
)


def test_long_open_handle_refuses_to_clobber_and_reloads(small_twin: Path) -> None:
    """A notebook keeps a twin open; another process saves; the notebook's save is refused, then works after reload."""
    notebook = open_twin(small_twin)
    assert notebook.changed_on_disk() == []
    subprocess.run([sys.executable, "-c", _OTHER_WRITER, str(small_twin), "/World/FromOther"], check=True, env=_env())
    changed = notebook.changed_on_disk()
    assert notebook.layer_path("scene") in changed
    with notebook.edit_layer("physics"):
        UsdGeom.Xform.Define(notebook.stage, "/World/FromNotebook")
    before = file_bytes(small_twin.parent)
    with pytest.raises(StageError, match=r"another writer changed .*scene\.usdc.*reload"):
        notebook.save()
    assert file_bytes(small_twin.parent) == before  # nothing written
    notebook.reload()
    assert notebook.stage.GetPrimAtPath("/World/FromOther")
    assert not notebook.stage.GetPrimAtPath("/World/FromNotebook")  # reload drops the refused edit
    with notebook.edit_layer("physics"):
        UsdGeom.Xform.Define(notebook.stage, "/World/FromNotebook")
    assert notebook.save() == [notebook.layer_path("physics")]
    fresh = Usd.Stage.Open(str(small_twin))
    assert fresh.GetPrimAtPath("/World/FromOther") and fresh.GetPrimAtPath("/World/FromNotebook")


def test_edit_in_same_process_sees_what_another_process_saved(small_twin: Path) -> None:
    """OpenUSD shares open layers in a process; an edit must still start from the files, not a stale copy."""
    keep_open = open_twin(small_twin)  # holds the layers in OpenUSD's registry
    subprocess.run([sys.executable, "-c", _OTHER_WRITER, str(small_twin), "/World/A"], check=True, env=_env())
    with edit_twin(small_twin) as twin, twin.edit_layer("scene"):
        UsdGeom.Xform.Define(twin.stage, "/World/B")
    fresh = Usd.Stage.Open(str(small_twin))
    assert fresh.GetPrimAtPath("/World/A") and fresh.GetPrimAtPath("/World/B")  # A survived B's edit
    del keep_open


def test_edit_refused_while_another_handle_has_unsaved_edits(small_twin: Path) -> None:
    notebook = open_twin(small_twin)
    with notebook.edit_layer("scene"):
        UsdGeom.Xform.Define(notebook.stage, "/World/Unsaved")
    with pytest.raises(StageError, match="unsaved edits in another open handle"), edit_twin(small_twin):
        pass
    notebook.discard()
    with edit_twin(small_twin):
        pass


def test_unwritable_folder_is_a_clear_error_and_changes_nothing(small_twin: Path, monkeypatch) -> None:
    """A twin on a read-only file system: the lock file cannot be created; one clear error, no file touched."""
    import errno

    before = file_bytes(small_twin.parent)
    real_open = os.open

    def read_only_open(path, flags, *args, **kwargs):
        if Path(path).parent == small_twin.parent and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only_open)
    with pytest.raises(StageError, match="cannot take the edit lock.*Read-only file system"), edit_twin(small_twin):
        pytest.fail("entered the edit on a read-only file system")
    monkeypatch.undo()
    assert file_bytes(small_twin.parent) == before


def test_full_disk_during_save_keeps_the_old_twin(small_twin: Path, monkeypatch, capsys) -> None:
    """The disk fills while the layers are flushed: exit 2, one line naming the twin, every file as it was."""
    import errno

    write_gaussians(small_twin.parent / "big.ply", random_gaussians(500, degree=0))
    before = file_bytes(small_twin.parent)

    def full_disk(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_disk)
    code = main(["import-splat", str(small_twin.parent / "big.ply"), "--stage", str(small_twin), "--prim", "/World/B"])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: {small_twin.resolve()}") and "No space left on device" in err
    assert err.count("\n") == 1
    assert file_bytes(small_twin.parent) == before
    assert not open_twin(small_twin).stage.GetPrimAtPath("/World/B")


def test_retry_after_a_failed_creation_in_the_same_process(tmp_path: Path, monkeypatch) -> None:
    """A notebook's first import fails on a full disk; the retry in the same process creates the twin."""
    import errno

    twin = tmp_path / "new" / "twin.usda"
    write_gaussians(tmp_path / "s.ply", random_gaussians(30, degree=0))
    args = ["import-splat", str(tmp_path / "s.ply"), "--stage", str(twin), "--prim", "/World/S"]

    def full_disk(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_disk)
    assert main(args) == 2
    monkeypatch.undo()
    assert not twin.exists() and not (tmp_path / "new" / "twin_layers").exists()
    assert main(args) == 0
    stage = Usd.Stage.Open(str(twin))
    assert len(stage.GetPrimAtPath("/World/S").GetAttribute("positions").Get()) == 30
    assert stage.GetPrimAtPath("/World/PhysicsScene")
