"""The shape of the code (docs/architecture.md, "Layers of the code"), read from the source with ``ast``.

Checked here: the layer order of the core's rooms, no Kit / Isaac Lab / task-package import in the core, no
``except ImportError`` guard around the package's own modules, and one helper per fact (quaternion to matrix,
USD world matrix).

Every import of every module of ``source/splattwin/splattwin`` counts: module level, inside functions, under
``TYPE_CHECKING``, relative ones, ``importlib.import_module("...")`` with a literal (or f-string prefix) name,
and module names held as strings (the lazy ``__getattr__`` tables). Each module belongs to a room (its
subpackage, or the top-level module itself); a room may import its own modules and the rooms of lower layers,
never a room of its own layer or of a higher one.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "source" / "splattwin" / "splattwin"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",),
    ("gaussians", "overrides"),  # overrides: key=value overrides of config dataclasses (arriving with the demo work)
    ("splattwin",),  # the package root: re-exports errors and gaussians, __version__
    ("geometry",),
    ("io",),
    ("mesh",),
    ("usd", "render", "physics"),
    ("robot", "sysid", "surfaces"),  # surfaces: meshes from splats, segmentation, convex decomposition (issue 21)
    ("scene",),
    ("vision",),  # pixels in: appearance fitting, pose from images, tracking (issue 20)
    ("pipelines",),
    ("app", "reporting", "viewer"),  # viewer: the browser viewer (issue 16)
    ("cli",),
)
"""Bottom first; the same list, with what each room holds, is in docs/architecture.md."""

KIT_AND_TASKS = ("omni", "carb", "isaacsim", "isaaclab", "splattwin_tasks")
"""Top-level packages the core never imports (isaaclab_* included): Kit, Isaac Lab and the task package above it."""

LAZY_ENTRY_POINTS: frozenset[tuple[str, str]] = frozenset()
"""(module, package) pairs allowed to import a package of :data:`KIT_AND_TASKS`, inside a function only. None
today: ``train`` / ``play`` reach the task package through its ``splattwin.tasks`` entry point (cli/_tasks.py),
never by name (docs/architecture.md)."""


_IMPORTERS = {"import_module", "__import__"}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. splattwin.usd.stage
    target: str  # the imported module, e.g. splattwin.io
    line: int
    in_function: bool


def _module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _room(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "splattwin"
    if parts[1] == "__main__":  # python -m splattwin: the command line
        return "cli"
    return parts[1]


def _string_target(node: ast.AST, modules: set[str]) -> str | None:
    """A module named by a string: ``"splattwin.render.scene"``, or the constant head of an f-string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in modules:
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        head = str(node.values[0].value).rstrip(".")
        if head.startswith("splattwin"):
            return head
    return None


def _imports(path: Path, modules: set[str], root: Path = PACKAGE) -> list[Import]:
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = str(node.module)
            # ``from splattwin import pipelines`` imports the submodule, not only the package.
            targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
        elif isinstance(node, ast.Constant | ast.JoinedStr):
            target = _string_target(node, modules)
            targets = [target] if target else []
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in _IMPORTERS:
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):  # any package, not only ours
                targets = [first.value]
        found.extend(Import(module, target, getattr(node, "lineno", 0), in_function) for target in targets)
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        if isinstance(node, ast.JoinedStr):
            return  # its constant parts were read above
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return list(dict.fromkeys(found))  # a literal given to import_module is seen as a call and as a string


@functools.cache
def _all_imports() -> list[Import]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(path) for path in files}
    return [found for path in files for found in _imports(path, modules)]


def _rank() -> dict[str, int]:
    return {room: level for level, rooms in enumerate(LAYERS) for room in rooms}


def layering_violations(imports: list[Import]) -> list[str]:
    """One line per import that points to the importing room's own layer or above."""
    rank = _rank()
    problems = []
    for found in imports:
        if found.target.split(".")[0] != "splattwin":
            continue
        source, target = _room(found.module), _room(found.target)
        if source == target:
            continue
        if rank[target] >= rank[source]:
            where = "in the same layer as" if rank[target] == rank[source] else "above"
            problems.append(f"{found.module}:{found.line} imports {found.target}: {target} is {where} {source}")
    return problems


def kit_violations(imports: list[Import]) -> list[str]:
    problems = []
    for found in imports:
        top = found.target.split(".")[0]
        if not (top in KIT_AND_TASKS or top.startswith("isaaclab")):
            continue
        allowed = (found.module, top) in LAZY_ENTRY_POINTS and found.in_function
        if not allowed:
            problems.append(f"{found.module}:{found.line} imports {found.target}")
    return problems


def test_every_room_has_a_layer() -> None:
    rooms = {_room(_module_name(path)) for path in PACKAGE.rglob("*.py")}
    missing = sorted(rooms - set(_rank()))
    assert not missing, f"rooms without a place in LAYERS (and docs/architecture.md): {missing}"
    assert sum(len(rooms) for rooms in LAYERS) == len(_rank()), "a room is listed twice in LAYERS"


def test_imports_point_down_only() -> None:
    imports = _all_imports()
    assert len(imports) > 300, "the scan found too few imports; is the package path right?"
    problems = layering_violations(imports)
    assert not problems, "imports against the layer order (docs/architecture.md):\n" + "\n".join(problems)


def test_core_never_imports_kit_isaac_lab_or_tasks() -> None:
    problems = kit_violations(_all_imports())
    assert not problems, "the core imports Kit / Isaac Lab / the task package:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("module", "code", "expected"),
    [
        # An upward import, one inside a function, a string-named one and a same-layer one are all caught.
        ("splattwin.usd.x", "from splattwin.robot import find_robots\n", "robot is above usd"),
        ("splattwin.render.x", "def f():\n    from splattwin.usd import open_usd_stage\n", "usd is in the same"),
        ("splattwin.io.x", "import importlib\nimportlib.import_module('splattwin.cli')\n", "cli is above io"),
        ("splattwin.geometry.x", "from .. import pipelines\n", "pipelines is above geometry"),
        ("splattwin.render.x", "_LAZY = {'gather': 'splattwin.scene'}\n", "scene is above render"),
    ],
)
def test_the_check_catches_what_it_should(tmp_path: Path, module: str, code: str, expected: str) -> None:
    """The checker itself, on synthetic modules (a broken layering must fail the test above)."""
    fake = tmp_path.joinpath(*module.split(".")).with_suffix(".py")
    fake.parent.mkdir(parents=True)
    fake.write_text(code)
    modules = {"splattwin.cli", "splattwin.scene", "splattwin.pipelines"}
    problems = layering_violations(_imports(fake, modules, tmp_path / "splattwin"))
    assert len(problems) == 1 and expected in problems[0], problems


def test_the_check_catches_a_kit_import_at_module_level(tmp_path: Path) -> None:
    fake = tmp_path / "splattwin" / "cli" / "_tasks.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(
        "import splattwin_tasks.training\nimport omni.usd\n"
        "def f():\n    import importlib\n    importlib.import_module('isaaclab.app')\n"
        "    raise ValueError('splattwin_tasks')\n"  # a string that is not an import
    )
    problems = kit_violations(_imports(fake, set(), tmp_path / "splattwin"))
    assert len(problems) == 3, problems


def _source_files_holding(text: str) -> list[str]:
    roots = [PACKAGE, PACKAGE.parents[2] / "tasks", PACKAGE.parents[2] / "exts"]
    return sorted(
        str(path.relative_to(PACKAGE.parents[2]))
        for root in roots
        for path in root.rglob("*.py")
        if text in path.read_text(encoding="utf-8")
    )


def test_quaternion_to_matrix_is_written_once() -> None:
    """geometry.transforms.quat_wxyz_to_matrix is the one formula (numpy and torch); nobody re-derives it."""
    assert _source_files_holding("1 - 2 * (y * y + z * z)") == ["source/splattwin/splattwin/geometry/transforms.py"]
    assert _source_files_holding("Rotation.from_quat") == []


def test_world_matrix_is_derived_once() -> None:
    """usd.prims.world_matrix is the one place that turns USD's row-vector matrix into a column-vector one."""
    assert _source_files_holding("ComputeLocalToWorldTransform") == ["source/splattwin/splattwin/usd/prims.py"]


def _guarded_own_imports(path: Path) -> list[str]:
    """``try: <import of splattwin...> except ImportError`` blocks: they turn a broken module into a silent no-op."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Try):
            continue
        caught = set()
        for handler in node.handlers:
            types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            caught |= {t.id for t in types if isinstance(t, ast.Name)}
        if not caught & {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}:
            continue
        for inner in (n for statement in node.body for n in ast.walk(statement)):
            names = []
            if isinstance(inner, ast.Import):
                names = [alias.name for alias in inner.names]
            elif isinstance(inner, ast.ImportFrom) and not inner.level:
                names = [str(inner.module)]
            elif isinstance(inner, ast.Constant) and isinstance(inner.value, str):
                names = [inner.value.partition(":")[0]]  # importlib.import_module("splattwin...") and the like
            elif isinstance(inner, ast.Call) and getattr(inner.func, "attr", getattr(inner.func, "id", "")) in {
                "import_module",
                "__import__",
            }:
                first = inner.args[0] if inner.args else None
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    names = ["splattwin"]  # a computed name: it may be one of ours (it was: the task scene's reader)
            if any(name == "splattwin" or name.startswith("splattwin.") for name in names):
                found.append(f"{path.relative_to(PACKAGE.parents[2])}:{node.lineno}")
                break
    return found


def test_no_guards_around_own_imports() -> None:
    """A missing dependency fails loudly where it is needed; a guard around the package's own modules would hide a
    broken module (the render pipeline used to pose no robot at all when ``splattwin.robot`` failed to import)."""
    roots = [PACKAGE, PACKAGE.parents[2] / "tasks", PACKAGE.parents[2] / "exts"]
    found = [hit for root in roots for path in sorted(root.rglob("*.py")) for hit in _guarded_own_imports(path)]
    assert not found, f"try/except ImportError around splattwin's own modules: {found}"


def test_a_missing_optional_dependency_names_its_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without OpenUSD (the ``usd`` extra) a verb says which extra to install, in one line, exit 2."""
    import sys

    from splattwin.cli import main

    stage = tmp_path / "twin.usda"
    stage.write_text("#usda 1.0\n")
    monkeypatch.setitem(sys.modules, "pxr", None)  # what `import pxr` sees when usd-exchange is not installed
    assert main(["inspect", str(stage)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: pxr: ") and "pip install 'splattwin[usd]'" in err[0], err


def test_a_broken_robot_module_is_not_taken_for_a_stage_without_robots(monkeypatch: pytest.MonkeyPatch) -> None:
    """The render pipeline's robot look-up used to answer "no joints" when splattwin.robot failed to import."""
    import sys

    from pxr import Usd

    from splattwin.pipelines import render

    monkeypatch.setitem(sys.modules, "splattwin.robot", None)  # as if the module failed to import
    with pytest.raises(ImportError, match="splattwin.robot"):
        render._robot_joint_names(Usd.Stage.CreateInMemory())


def test_the_documented_layer_order_is_the_checked_one() -> None:
    text = (PACKAGE.parents[2] / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = text.split("<!-- layer order:", 1)[1].split("```", 2)[1]
    documented = [tuple(room.strip() for room in line.split(",")) for line in block.strip().splitlines()]
    assert documented == list(reversed(LAYERS))


def test_every_import_of_splattwin_names_a_module_that_exists() -> None:
    """A moved module leaves no import of its old path behind (in the core, tasks, exts, tests, bench or docs)."""
    modules = {_module_name(path) for path in PACKAGE.rglob("*.py")}
    repo = PACKAGE.parents[2]
    stale = []
    for root in ("source", "tasks", "exts", "tests", "bench", "docs"):
        for path in sorted((repo / root).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and not node.level:
                    names = [str(node.module)]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                stale += [
                    f"{path.relative_to(repo)}:{node.lineno} {name}"
                    for name in names
                    if name.split(".")[0] == "splattwin" and name not in modules
                ]
    assert not stale, f"imports of splattwin modules that do not exist: {stale}"
