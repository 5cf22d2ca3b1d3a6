"""Mutation score of the test suite over ``io/``, ``usd/``, ``geometry/`` and ``render/``: sample mutants, run
the tests that cover each package, count the mutants the tests kill.

Why home-made instead of mutmut or cosmic-ray: both want to own the run (mutmut 3 copies the project into
``mutants/`` and runs the whole suite per mutant; cosmic-ray needs a session database and a config per package),
and a full run over these packages is thousands of mutants x tens of seconds on a 2-core machine. This script
does the one thing needed here: enumerate mutation sites with :mod:`ast`, draw a seeded sample, stop at a time
budget, and run only the test files of the mutated package (``-x``: the first failure kills the mutant).

Operators (the classic set): comparison swaps (``<`` <-> ``<=``, ``>`` <-> ``>=``, ``==`` <-> ``!=``, ``is`` <->
``is not``, ``in`` <-> ``not in``), arithmetic swaps (``+`` <-> ``-``, ``*`` <-> ``/``, ``**`` -> ``*``), ``and`` <->
``or``, dropping ``not``, numeric constants (``n`` -> ``n + 1``, ``0.0`` -> ``1.0``, ``x`` -> ``2x``), and a ``raise``
replaced by ``pass`` (a check removed). Each mutant is the module re-generated with :func:`ast.unparse` in a copy
of the source tree, so the checkout is never touched.

Survivors are listed so a person can tell equivalent mutants (no behaviour change) from gaps in the tests; the
printed score counts every survivor as a miss (the honest lower bound).

    PYTHONPATH=source/splattwin python bench/mutation_score.py --sample 40 --budget-s 1200 --seed 0
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "source" / "splattwin" / "splattwin"

TESTS_BY_PACKAGE = {
    "io": [
        "tests/test_io_ply.py",
        "tests/test_io_spz.py",
        "tests/test_io_splat.py",
        "tests/test_io_errors.py",
        "tests/test_fuzz_readers.py",
        "tests/test_regressions.py",
        "tests/test_mutation_killers.py",
    ],
    "usd": [
        "tests/test_usd_stage.py",
        "tests/test_usd_splats.py",
        "tests/test_usd_assets.py",
        "tests/test_cli.py",
        "tests/test_concurrency.py",
        "tests/test_mutation_killers.py",
    ],
    "geometry": [
        "tests/test_geometry_alignment.py",
        "tests/test_geometry_sh_rotation.py",
        "tests/test_geometry_transforms.py",
        "tests/test_pipelines_align.py",
        "tests/test_mutation_killers.py",
    ],
    "render": ["tests/test_render_rasterizer.py"],
}

_COMPARE_SWAP = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_BINOP_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Pow: ast.Mult}


@dataclass(frozen=True)
class Mutant:
    """One mutation: the module, the index of the mutated node in ``ast.walk`` order, and what was done."""

    path: Path
    node_index: int
    description: str
    line: int


def _in_docstring_or_annotation(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    parent = parents.get(node)
    while parent is not None:
        if isinstance(parent, (ast.arg, ast.AnnAssign)) and getattr(parent, "annotation", None) is not None:
            return True
        parent = parents.get(parent)
    return False


def _describe(node: ast.AST) -> str | None:
    """What mutating this node would do, or None when it is no mutation site."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE_SWAP:
        return f"{type(node.ops[0]).__name__} -> {_COMPARE_SWAP[type(node.ops[0])].__name__}"
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAP:
        return f"{type(node.op).__name__} -> {_BINOP_SWAP[type(node.op)].__name__}"
    if isinstance(node, ast.BoolOp):
        return "and -> or" if isinstance(node.op, ast.And) else "or -> and"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return "drop not"
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return f"constant {node.value!r} -> {_mutated_constant(node.value)!r}"
    if isinstance(node, ast.Raise):
        return "raise -> pass"
    return None


def _mutated_constant(value: float) -> float:
    if isinstance(value, int):
        return value + 1
    return 1.0 if value == 0 else value * 2


def find_mutants(path: Path) -> list[Mutant]:
    """Every mutation site of a module."""
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    mutants = []
    for index, node in enumerate(ast.walk(tree)):
        description = _describe(node)
        if description is None or _in_docstring_or_annotation(node, parents):
            continue
        if isinstance(node, ast.Constant) and isinstance(parents.get(node), ast.Subscript):
            continue  # tuple[int, int]-style subscripts in runtime annotations (aliases)
        mutants.append(Mutant(path, index, description, getattr(node, "lineno", 0)))
    return mutants


class _Apply(ast.NodeTransformer):
    def __init__(self, target: ast.AST) -> None:
        self.target = target

    def generic_visit(self, node: ast.AST) -> ast.AST:
        node = super().generic_visit(node)
        if node is not self.target:
            return node
        if isinstance(node, ast.Compare):
            node.ops = [_COMPARE_SWAP[type(node.ops[0])]()]
        elif isinstance(node, ast.BinOp):
            node.op = _BINOP_SWAP[type(node.op)]()
        elif isinstance(node, ast.BoolOp):
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif isinstance(node, ast.UnaryOp):
            return node.operand
        elif isinstance(node, ast.Constant):
            node.value = _mutated_constant(node.value)
        elif isinstance(node, ast.Raise):
            return ast.Pass()
        return node


def mutated_source(mutant: Mutant) -> str:
    tree = ast.parse(mutant.path.read_text())
    target = list(ast.walk(tree))[mutant.node_index]
    tree = _Apply(target).visit(tree)
    return ast.unparse(ast.fix_missing_locations(tree))


def run_tests(tree: Path, tests: list[str], timeout_s: float) -> tuple[str, float]:
    """'killed', 'survived' or 'timeout' (counted as killed), and the seconds it took."""
    env = {**os.environ, "PYTHONPATH": str(tree / "source" / "splattwin"), "HYPOTHESIS_DATABASE": ":memory:"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow", *tests]
    began = time.monotonic()
    try:
        result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - began
    return ("survived" if result.returncode == 0 else "killed"), time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # render/ is opt-in: its kernels recompile (numba) for each mutant, and the documented scores are over the rest
    default = [package for package in TESTS_BY_PACKAGE if package != "render"]
    parser.add_argument("--packages", nargs="*", default=default, choices=list(TESTS_BY_PACKAGE))
    parser.add_argument("--sample", type=int, default=40, help="mutants drawn (seeded) from all sites")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget-s", type=float, default=1200.0, help="stop drawing new mutants after this")
    parser.add_argument("--modules", nargs="*", default=None, help="only these file names (e.g. _cpu_kernels.py)")
    args = parser.parse_args()

    sites: list[tuple[str, Mutant]] = []
    for package in args.packages:
        for path in sorted((PACKAGE / package).glob("*.py")):
            if path.name != "__init__.py" and (args.modules is None or path.name in args.modules):
                sites += [(package, mutant) for mutant in find_mutants(path)]
    print(f"{len(sites)} mutation sites in {', '.join(args.packages)}; sampling {args.sample} (seed {args.seed})")
    chosen = random.Random(args.seed).sample(sites, min(args.sample, len(sites)))

    work = Path(tempfile.mkdtemp(prefix="splattwin-mutants-"))
    try:
        shutil.copytree(REPO / "source", work / "source", ignore=shutil.ignore_patterns("__pycache__"))
        baseline: dict[str, float] = {}
        for package in sorted({package for package, _ in chosen}):
            outcome, seconds = run_tests(work, TESTS_BY_PACKAGE[package], timeout_s=1800)
            if outcome != "survived":
                raise SystemExit(f"the {package} tests fail on unmutated code; fix that first")
            baseline[package] = seconds
            print(f"baseline {package}: tests pass in {seconds:.0f} s")
        began = time.monotonic()
        results: list[tuple[Mutant, str]] = []
        for number, (package, mutant) in enumerate(chosen, start=1):
            if time.monotonic() - began > args.budget_s:
                print(f"time budget of {args.budget_s:.0f} s reached after {len(results)} mutants")
                break
            relative = mutant.path.relative_to(REPO / "source" / "splattwin")
            target = work / "source" / "splattwin" / relative
            original = target.read_text()
            target.write_text(mutated_source(mutant))
            try:
                outcome, seconds = run_tests(work, TESTS_BY_PACKAGE[package], timeout_s=3 * baseline[package] + 30)
            finally:
                target.write_text(original)
            results.append((mutant, outcome))
            print(f"[{number:3d}] {outcome:8s} {seconds:5.0f} s  {relative}:{mutant.line}  {mutant.description}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    killed = sum(outcome != "survived" for _, outcome in results)
    print(
        f"mutation score: {killed}/{len(results)} killed = {killed / max(len(results), 1):.0%} (survivors all counted)"
    )
    for mutant, outcome in results:
        if outcome == "survived":
            print(f"  survived: {mutant.path.relative_to(REPO)}:{mutant.line}  {mutant.description}")


if __name__ == "__main__":
    main()
