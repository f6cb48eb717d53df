"""The import rule of docs/architecture.md, read from the source with ``ast``.

Every import counts, at module level or inside a function: a circle through a function's
import still ties two modules together. Imports only for type checkers
(``if TYPE_CHECKING:``) count too, so the rule holds for annotations as well.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Folder on disk -> the module name it is imported as (setup.py maps the first three).
FOLDERS = {
    "edge": "maskwatch",
    "train": "maskwatch.train",
    "convert": "maskwatch.convert",
    "workbench": "workbench",
    "scripts": "scripts",
}
# The device's parts, bottom to top. A part imports its own modules and lower parts only;
# parts of the same rank (tracking, publish) do not import each other.
DEVICE_RANK = {
    "maskwatch.core": 0,
    "maskwatch.vision": 1,
    "maskwatch.tracking": 2,
    "maskwatch.publish": 2,
    "maskwatch.service": 3,
}
WORKSTATION = ("maskwatch.train", "maskwatch.convert")
WORKSTATION_MAY_USE = ("maskwatch.core", "maskwatch.vision", *WORKSTATION)
MAX_LINES = 400


def module_files() -> dict[str, Path]:
    modules = {}
    for folder, name in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((name, *parts))] = path
    return modules


MODULES = module_files()


def imported(path: Path) -> set[str]:
    """The project modules ``path`` imports (``from a import b`` is module ``a.b`` when
    that is a module, else ``a``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                names.add(full if full in MODULES else node.module)
    return {n for n in names if n in MODULES}


GRAPH = {module: imported(path) for module, path in MODULES.items()}


def part_of(module: str, parts: tuple[str, ...] | dict) -> str | None:
    return next((p for p in parts if module == p or module.startswith(p + ".")), None)


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in graph.items():
        for target in targets:
            if part_of(module, WORKSTATION):
                if not part_of(target, WORKSTATION_MAY_USE):
                    problems.append(f"{module} (workstation) imports {target}")
                continue
            own, theirs = part_of(module, DEVICE_RANK), part_of(target, DEVICE_RANK)
            if own is None or theirs is None or own == theirs:
                continue
            if DEVICE_RANK[theirs] >= DEVICE_RANK[own]:
                problems.append(f"{module} ({own}) imports {target} ({theirs})")
        if module.startswith("maskwatch") and any(
            t.startswith(("workbench", "scripts")) for t in targets
        ):
            problems.append(f"{module} imports the workstation's scripts or workbench")
    return problems


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), or a self-import."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_each_part_imports_only_the_parts_below_it():
    assert layer_violations(GRAPH) == []


def test_no_module_imports_itself_round_a_circle():
    assert circles(GRAPH) == []


def test_scripts_are_entry_points_that_nobody_imports():
    importers = {m: t for m, t in GRAPH.items() if not m.startswith("scripts")}
    assert [
        m for m, targets in importers.items() if any(t.startswith("scripts") for t in targets)
    ] == []
    assert [(m, t) for m, targets in GRAPH.items() if m.startswith("scripts")
            for t in targets if t.startswith("scripts")] == []  # fmt: skip


def test_the_rule_catches_an_upward_import_and_a_circle():
    """The checks above can fail: a vision module importing the tracker, and two
    modules importing each other, are both reported."""
    upward = {"maskwatch.vision.motion": {"maskwatch.tracking.tracker"}}
    assert layer_violations(upward) == [
        "maskwatch.vision.motion (maskwatch.vision) imports maskwatch.tracking.tracker "
        "(maskwatch.tracking)"
    ]
    sideways = {"maskwatch.publish.mqtt": {"maskwatch.tracking.events"}}
    assert len(layer_violations(sideways)) == 1
    training = {"maskwatch.train.evaluate": {"maskwatch.service.daemon"}}
    assert layer_violations(training) == [
        "maskwatch.train.evaluate (workstation) imports maskwatch.service.daemon"
    ]
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_part_says_what_it_owns_and_may_import():
    for part in DEVICE_RANK:
        doc = ast.get_docstring(ast.parse(MODULES[part].read_text())) or ""
        assert "May import" in doc, part


def test_no_module_over_400_lines_without_a_reason_at_its_top():
    for path in MODULES.values():
        lines = path.read_text().splitlines()
        if len(lines) > MAX_LINES:
            doc = ast.get_docstring(ast.parse("\n".join(lines))) or ""
            assert f"over {MAX_LINES} lines" in doc.lower(), f"{path}: {len(lines)} lines"


def test_every_option_of_every_subcommand_has_a_help_line():
    from maskwatch.service.cli import build_parser

    def walk(parser, path):
        for action in parser._actions:
            if action.choices and hasattr(action, "_name_parser_map"):
                for name, sub in action.choices.items():
                    yield from walk(sub, f"{path} {name}")
            elif action.dest != "help":
                yield path, action

    missing = [f"{path} {'/'.join(a.option_strings) or a.dest}"
               for path, a in walk(build_parser(), "maskwatch") if not a.help]  # fmt: skip
    assert missing == []
