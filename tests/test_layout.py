"""The layout shows the architecture, and these rules keep it so.

Each package of `workflow/` says in its docstring what it may import (« May import: … »);
this test reads the imports of every module (at any depth, TYPE_CHECKING blocks included)
and holds the tree to those words, to the README's map, and to the house rules: `web`
imports `workflow`, never the reverse; no module reaches back to one that imports it; only
the machine assigns a dossier's state.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AUDIENCES = (
    "public",
    "auth",
    "deposant",
    "instruction",
    "administration",
    "avis",
    "partenaire",
    "commission",
    "dev",
    "api",
)


def _modules(top: str) -> dict[str, Path]:
    found = {}
    for path in (ROOT / top).rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


MODULES = {**_modules("workflow"), **_modules("web")}


def _imports(path: Path) -> set[str]:
    """The modules of this project that `path` names in an import, anywhere in the file."""
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            named.add(node.module)
            named.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
    return {name for name in named if name in MODULES}


GRAPH = {module: _imports(path) - {module} for module, path in MODULES.items()}


def _package(module: str) -> str:
    """`workflow.machine.firing` -> `machine`; `workflow` itself -> ``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _may_import(package: str) -> set[str]:
    doc = ast.get_docstring(ast.parse((ROOT / "workflow" / package / "__init__.py").read_text()))
    found = re.search(r"May import: (.*?)(?:\.|$)", " ".join((doc or "").split()))
    assert found, f"workflow/{package}/__init__.py does not say what it may import"
    if found.group(1).startswith("nothing"):
        return set()
    return set(re.findall(r"`(\w+)`", found.group(1)))


def _packages(top: str) -> list[str]:
    return sorted(p.name for p in (ROOT / top).iterdir() if (p / "__init__.py").is_file())


def test_every_workflow_package_says_what_it_owns_and_may_import():
    for package in _packages("workflow"):
        allowed = _may_import(package)
        unknown = allowed - set(_packages("workflow"))
        assert not unknown, f"workflow/{package} names packages that do not exist: {unknown}"


def test_workflow_packages_import_only_what_their_docstring_allows():
    breaches = []
    for module, targets in GRAPH.items():
        if not module.startswith("workflow.") or module.count(".") < 1:
            continue
        package = _package(module)
        allowed = _may_import(package) | {package}
        for target in targets:
            if target.startswith("workflow.") and _package(target) not in allowed:
                breaches.append(f"{module} imports {target}")
    assert not breaches, "\n".join(sorted(breaches))


def test_workflow_never_imports_web_nor_flask():
    for module, path in MODULES.items():
        if not module.startswith("workflow"):
            continue
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import) (web|flask)\b", source, re.M), module


def test_the_machine_imports_no_instruction_mail_scheduling_or_web_code():
    forbidden = ("instruction", "administration", "mail", "scheduling")
    for module, targets in GRAPH.items():
        if module.startswith("workflow.machine"):
            bad = [t for t in targets if t.startswith("web") or _package(t) in forbidden]
            assert not bad, f"{module} imports {bad}"


def test_each_audience_of_web_imports_only_the_shared_pieces():
    breaches = []
    for module, targets in GRAPH.items():
        parts = module.split(".")
        if len(parts) < 2 or parts[0] != "web":
            continue
        own = parts[1]
        for target in targets:
            if not target.startswith("web."):
                continue
            other = target.split(".")[1]
            if own == "shared" and other != "shared":
                breaches.append(f"{module} (shared) imports the audience {target}")
            if own in AUDIENCES and other not in (own, "shared"):
                breaches.append(f"{module} imports another audience's {target}")
    assert not breaches, "\n".join(sorted(breaches))
    assert set(_packages("web")) == {*AUDIENCES, "shared"}


def test_no_module_imports_one_that_imports_it_back():
    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            current = todo.pop()
            for nxt in GRAPH.get(current, ()):
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    circles = sorted(
        {tuple(sorted((a, b))) for a, targets in GRAPH.items() for b in targets if reaches(b, a)}
    )
    assert not circles, circles


def _assigns_state(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        lines += [t.lineno for t in targets if isinstance(t, ast.Attribute) and t.attr == "state"]
        # update(...).values(state=...) and setattr(x, "state", ...)
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "values":
                lines += [k.lineno for k in node.keywords if k.arg == "state"]
            if isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) > 1:
                name = node.args[1]
                if isinstance(name, ast.Constant) and name.value == "state":
                    lines.append(node.lineno)
    return lines


def test_only_the_machine_assigns_a_state():
    sources = [*MODULES.items(), ("run", ROOT / "run.py")]
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for module, path in sources
        if not module.startswith("workflow.machine")
        for line in _assigns_state(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not offenders, offenders
    machine = [
        line
        for module, path in MODULES.items()
        if module.startswith("workflow.machine")
        for line in _assigns_state(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert machine, "the check found no assignment at all: it would not see one elsewhere"


def test_the_readme_map_names_every_package():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Où est quoi") :]
    for top in ("workflow", "web"):
        for package in _packages(top):
            assert f"`{top}/{package}/`" in section, f"README's map lacks {top}/{package}/"
