"""Fuzz every reader through the import command: mutated files must end in exit 0 or 2, never a traceback, never
a partial stage, and never use memory out of proportion to the file.

For each reader (3DGS PLY binary and ASCII, SPZ v3 and v4, ``.splat``, OBJ/PLY/STL/GLB meshes) it writes a small
valid seed file, mutates it ``--per-reader`` times (tests/fuzz_inputs.py: truncation, header bytes, counts,
property types, NaN/Inf, garbage, damage inside the SPZ gzip stream and the GLB JSON) and runs each mutant through
``splattwin.cli.main(["import-splat" | "import-mesh", FILE, "--stage", TWIN, "--prim", NEW])`` in this process:

- a traceback (any exception escaping ``main``) or an exit code other than 0 and 2 is a *crasher*: the file is
  kept under ``tests/regressions/`` (``--save-crashers``) so tests/test_regressions.py replays it forever; a
  RuntimeWarning from splattwin's code (noise before the one error line; an error under the test suite's filter)
  is counted and kept the same way;
- exit 2 must leave every file of the twin byte-identical (compared by hash); exit 0 must add the prim and leave a
  twin that opens;
- ``--subprocess-sample`` mutants per reader also run as ``python -m splattwin ...`` child processes: exit codes and
  the child's peak RSS (``os.wait4``'s ``ru_maxrss``) above a child that imported the valid seed (a corrupt
  count that reached an allocation would show here as gigabytes).

    PYTHONPATH=source/splattwin python bench/fuzz_readers.py --per-reader 1000 --subprocess-sample 5
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fuzz_inputs import READERS, Reader, mutate, seed_bytes  # noqa: E402


def _command(reader: Reader, source: Path, twin: Path, prim: str) -> list[str]:
    verb = "import-splat" if reader.gaussians else "import-mesh"
    return [verb, str(source), "--stage", str(twin), "--prim", prim]


def _twin_hash(twin: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(twin.parent.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(twin.parent)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _save_crasher(folder: Path, reader: Reader, data: bytes, label: str, detail: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{reader.kind}-{hashlib.sha256(data).hexdigest()[:12]}{reader.suffix}"
    (folder / name).write_bytes(data)
    (folder / f"{name}.txt").write_text(f"mutation: {label}\n{detail}\n")
    return folder / name


def fuzz_in_process(reader: Reader, count: int, seed: int, work: Path, crashers: Path | None) -> dict:
    """Run ``count`` mutants of ``reader`` through ``main`` in this process; counts of each outcome."""
    from pxr import Usd

    from splattwin.cli import main

    seed_data = seed_bytes(reader.kind, work / "seed")
    twin = work / reader.kind / "twin.usda"
    source = work / reader.kind / f"mutant{reader.suffix}"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(seed_data)
    assert main(_command(reader, source, twin, "/World/Seed")) == 0, f"the {reader.kind} seed does not import"
    counts: collections.Counter[str] = collections.Counter()
    labels: collections.Counter[str] = collections.Counter()
    for index in range(count):
        rnd = random.Random(f"{seed}-{reader.kind}-{index}")
        data, label = mutate(reader.kind, seed_data, rnd)
        source.write_bytes(data)
        before = _twin_hash(twin)
        prim = f"/World/Fuzz/M{index}"
        stderr = io.StringIO()
        try:
            with (
                contextlib.redirect_stderr(stderr),
                contextlib.redirect_stdout(io.StringIO()),
                warnings.catch_warnings(record=True) as caught,
            ):
                warnings.simplefilter("always")
                code = main(_command(reader, source, twin, prim))
            # A RuntimeWarning (overflow, invalid value) from our code is noise on stderr before the one error line.
            noisy = [w for w in caught if issubclass(w.category, RuntimeWarning) and "splattwin" in w.filename]
            if noisy:
                counts["runtime warning"] += 1
                if crashers is not None:
                    _save_crasher(crashers, reader, data, label, f"{noisy[0].category.__name__}: {noisy[0].message}")
        except BaseException as exc:  # a crasher: anything escaping the CLI's error handling
            counts["traceback"] += 1
            if crashers is not None:
                detail = "".join(traceback.format_exception(exc))
                _save_crasher(crashers, reader, data, label, detail)
            if before != _twin_hash(twin):
                counts["partial stage"] += 1
            continue
        counts[f"exit {code}"] += 1
        if code == 2:
            labels[label.split("+")[0]] += 1
            if _twin_hash(twin) != before:
                counts["partial stage"] += 1
            if stderr.getvalue().count("\n") != 1:
                counts["not one error line"] += 1
        elif code == 0:
            stage = Usd.Stage.Open(str(twin))
            if not stage.GetPrimAtPath(prim):
                counts["exit 0 without the prim"] += 1
        else:
            counts["bad exit code"] += 1
            if crashers is not None:
                _save_crasher(crashers, reader, data, label, f"exit code {code}")
    return {"counts": counts, "refused_by_mutation": labels}


def _child_peak_kib(command: list[str], env: dict[str, str]) -> tuple[int, int, str]:
    """Run a child, return (exit code, peak RSS [KiB], stderr)."""
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return process.returncode, usage.ru_maxrss, err.read().decode(errors="replace")


def fuzz_subprocess(reader: Reader, count: int, seed: int, work: Path, crashers: Path | None) -> dict:
    """``count`` mutants as child processes: exit codes and peak memory above a valid import's."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "source" / "splattwin")}
    seed_data = seed_bytes(reader.kind, work / "seed")
    folder = work / f"{reader.kind}-sub"
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"seed{reader.suffix}"
    source.write_bytes(seed_data)
    python = [sys.executable, "-m", "splattwin"]
    code, baseline_kib, err = _child_peak_kib(
        [*python, *_command(reader, source, folder / "base.usda", "/World/S")], env
    )
    assert code == 0, err
    codes: collections.Counter[int] = collections.Counter()
    worst_extra_kib, worst_size = 0, 0
    for index in range(count):
        rnd = random.Random(f"{seed}-{reader.kind}-sub-{index}")
        data, label = mutate(reader.kind, seed_data, rnd)
        source = folder / f"m{index}{reader.suffix}"
        source.write_bytes(data)
        twin = folder / f"t{index}" / "twin.usda"
        code, peak_kib, err = _child_peak_kib([*python, *_command(reader, source, twin, "/World/S")], env)
        codes[code] += 1
        if code not in (0, 2) and crashers is not None:
            _save_crasher(crashers, reader, data, label, f"exit code {code}\n{err}")
        if code == 2 and twin.parent.exists() and any(twin.parent.iterdir()):
            codes["partial stage (new twin left behind)"] += 1
        extra_kib = max(peak_kib - baseline_kib, 0)
        if extra_kib >= worst_extra_kib:
            worst_extra_kib, worst_size = extra_kib, len(data)
    return {
        "codes": codes,
        "baseline_kib": baseline_kib,
        "worst_extra_kib": worst_extra_kib,
        "worst_size": worst_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-reader", type=int, default=1000, help="mutants per reader, in process")
    parser.add_argument("--subprocess-sample", type=int, default=5, help="mutants per reader as child processes")
    parser.add_argument("--readers", nargs="*", default=list(READERS), choices=list(READERS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-crashers", type=Path, default=None, help="folder for crashers (tests/regressions)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="splattwin-fuzz-"))
    totals: collections.Counter[str] = collections.Counter()
    try:
        for kind in args.readers:
            reader = READERS[kind]
            began = time.perf_counter()
            result = fuzz_in_process(reader, args.per_reader, args.seed, work, args.save_crashers)
            counts = result["counts"]
            totals.update(counts)
            print(
                f"{kind:15s} {args.per_reader} mutants in {time.perf_counter() - began:6.1f} s: "
                + ", ".join(f"{key}: {value}" for key, value in sorted(counts.items()))
            )
            if args.subprocess_sample:
                sub = fuzz_subprocess(reader, args.subprocess_sample, args.seed, work, args.save_crashers)
                print(
                    f"{'':15s} {args.subprocess_sample} as child processes: exit codes {dict(sub['codes'])}; "
                    f"peak RSS at most +{sub['worst_extra_kib'] / 1024:.1f} MiB "
                    f"(a mutant of {sub['worst_size']} bytes) "
                    f"above the valid seed's import ({sub['baseline_kib'] / 1024:.0f} MiB, interpreter included)"
                )
                for code, number in sub["codes"].items():
                    if code not in (0, 2):
                        totals[f"child exit {code}"] += number
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bad = {
        key: value for key, value in totals.items() if not key.startswith("exit ") or key not in ("exit 0", "exit 2")
    }
    print(f"total: {dict(totals)}")
    print("verdict: " + ("no crasher, no partial stage" if not bad else f"FAILURES {bad}"))


if __name__ == "__main__":
    main()
