"""The package's structure, held by reading its source with ``ast``.

- No import circles among dr_notebook's modules (module- and function-level imports count;
  imports under ``if TYPE_CHECKING:`` do not), with a planted circle as the control.
- The sandbox's layers: the runtime imports nothing of the sandbox outside itself; the API
  never imports a concrete runtime or ``subprocess``; the store imports no service; only
  ``sandbox/app.py`` names a concrete runtime.
- The sandbox and the client side import nothing of each other (``cli.py`` and ``demo.py`` are
  the entry points that start both).
- No function over 100 lines.
- ``docs/layout.md`` names every module, and only modules that exist.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path

import dr_notebook

PACKAGE = Path(dr_notebook.__file__).resolve().parent
ROOT = PACKAGE.parent
CATALOGUE = PACKAGE / "sandbox" / "catalogue"
MAX_FUNCTION_LINES = 100
SANDBOX = "dr_notebook.sandbox"
ENTRY_POINTS = {"dr_notebook.cli", "dr_notebook.demo"}
CONCRETE_RUNTIMES = {
    f"{SANDBOX}.runtime.{name}"
    for name in ("local", "simulated", "builder", "supervisor", "isolation", "network")
}


def module_files(package: Path = PACKAGE, name: str = "dr_notebook") -> dict[str, Path]:
    """Every module of the package by dotted name (the catalogue's template files are data)."""
    found: dict[str, Path] = {}
    for path in sorted(package.rglob("*.py")):
        if path.parent != CATALOGUE and CATALOGUE in path.parents:
            continue
        parts = path.relative_to(package).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join((name, *parts))] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _import_nodes(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _import_nodes(node)


def imported_names(module: str, path: Path, known: Iterable[str]) -> set[str]:
    """The modules ``module`` imports: a submodule when ``from pkg import sub`` names one."""
    known = set(known)
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = module.split(".")
            anchor = anchor if is_package else anchor[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            names.add(sub if sub in known else base)
    return names


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """dr_notebook module -> the dr_notebook modules it imports."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = imported_names(name, path, modules)
        graph[name] = {m for m in imported if m in modules and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (its modules in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


MODULES = module_files()
GRAPH = import_graph(MODULES)
ALL_IMPORTS = {name: imported_names(name, path, MODULES) for name, path in MODULES.items()}


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_the_walk_found_the_package() -> None:
    assert len(MODULES) > 100
    assert f"{SANDBOX}.app" in MODULES and "dr_notebook.models" in MODULES
    assert not any("catalogue." in name and "loader" not in name for name in MODULES)
    assert any(GRAPH.values())  # control: edges were found


def test_no_import_circles() -> None:
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH) or [])


def test_the_circle_finder_finds_a_planted_circle(tmp_path: Path) -> None:
    package = tmp_path / "planted"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from planted import b\n")
    (package / "b.py").write_text("def f():\n    from planted.c import g\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from planted import b\n"
        "from planted import a\n"
    )
    (package / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from planted import e\n"
    )
    (package / "e.py").write_text("from planted import d\n")
    graph = import_graph(module_files(package, "planted"))
    assert find_cycle(graph) == ["planted.a", "planted.b", "planted.c", "planted.a"]
    assert "planted.e" not in graph["planted.d"]  # typing-only imports do not count
    del graph["planted.c"]
    assert find_cycle(graph) is None


def test_the_runtime_imports_nothing_of_the_sandbox_outside_itself() -> None:
    runtime = f"{SANDBOX}.runtime"
    assert any(_under(m, runtime) for m in GRAPH[f"{runtime}.local"])  # control
    outside = {
        name: sorted(m for m in imported if _under(m, "dr_notebook") and not _under(m, runtime))
        for name, imported in GRAPH.items()
        if _under(name, runtime)
    }
    assert {k: v for k, v in outside.items() if v} == {}


def test_the_api_imports_no_concrete_runtime_nor_subprocess() -> None:
    api = {name: ALL_IMPORTS[name] for name in MODULES if _under(name, f"{SANDBOX}.api")}
    assert len(api) > 10 and "subprocess" in ALL_IMPORTS[f"{SANDBOX}.runtime.supervisor"]
    bad = {
        name: sorted(m for m in imported if m in CONCRETE_RUNTIMES or _under(m, "subprocess"))
        for name, imported in api.items()
    }
    assert {k: v for k, v in bad.items() if v} == {}


def test_only_app_names_a_concrete_runtime() -> None:
    concrete = {f"{SANDBOX}.runtime.local", f"{SANDBOX}.runtime.simulated"}
    naming = sorted(
        name
        for name, imported in GRAPH.items()
        if imported & concrete and not _under(name, f"{SANDBOX}.runtime")
    )
    assert naming == [f"{SANDBOX}.app"]


def test_the_store_imports_no_service() -> None:
    store = {name: GRAPH[name] for name in MODULES if _under(name, f"{SANDBOX}.store")}
    assert len(store) >= 3
    bad = {
        name: sorted(
            m for m in imported if _under(m, f"{SANDBOX}.service") or _under(m, f"{SANDBOX}.api")
        )
        for name, imported in store.items()
    }
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_sandbox_and_the_client_side_import_nothing_of_each_other() -> None:
    shared = {"dr_notebook", "dr_notebook._version"}
    crossing: dict[str, list[str]] = {}
    for name, imported in GRAPH.items():
        if name in ENTRY_POINTS or name in shared:
            continue
        in_sandbox = _under(name, SANDBOX)
        wrong = sorted(m for m in imported if m not in shared and _under(m, SANDBOX) != in_sandbox)
        if wrong:
            crossing[name] = wrong
    assert crossing == {}
    assert any(_under(m, SANDBOX) for m in GRAPH["dr_notebook.demo"])  # control


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """Functions (and methods, nested ones too) longer than ``limit`` lines, by name."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > limit:
                found[node.name] = length
    return found


def test_no_function_over_100_lines() -> None:
    too_long = {
        f"{name}.{function}": length
        for name, path in MODULES.items()
        for function, length in long_functions(path.read_text(encoding="utf-8")).items()
    }
    assert too_long == {}


def test_the_function_length_check_sees_a_long_function() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    source = f"def long():\n{body}\n\ndef short():\n    return 1\n"
    assert long_functions(source) == {"long": MAX_FUNCTION_LINES + 1}
    nested = "class C:\n    def m(self):\n" + textwrap.indent(body, "    ") + "\n"
    assert long_functions(nested) == {"m": MAX_FUNCTION_LINES + 1}


def documented_modules(text: str) -> set[str]:
    """The modules docs/layout.md's tree names: ``name.py`` entries under their folders."""
    names: set[str] = set()
    folders: list[tuple[int, str]] = []
    for line in text.split("```")[1].splitlines():
        match = re.match(r"^( *)([\w.]+/|[\w]+\.py)(\s|$)", line)
        if not match:
            continue
        indent, entry = len(match.group(1)), match.group(2)
        while folders and folders[-1][0] >= indent:
            folders.pop()
        prefix = ".".join(folder for _, folder in folders)
        if entry.endswith("/"):
            folders.append((indent, entry[:-1]))
            continue
        stem = entry[:-3]
        dotted = prefix if stem == "__init__" else f"{prefix}.{stem}"
        names.add(dotted)
    return names


def test_the_layout_doc_names_every_module() -> None:
    text = (ROOT / "docs" / "layout.md").read_text(encoding="utf-8")
    documented = documented_modules(text)
    assert "dr_notebook.sandbox.app" in documented  # control: the tree was read
    assert sorted(set(MODULES) - documented) == []  # every module is named
    assert sorted(documented - set(MODULES)) == []  # every name is a module


def test_public_modules_are_attributes_in_any_import_order() -> None:
    code = (
        "import dr_notebook as drn; "
        "print(drn.models.Template.__name__, drn.enums.__name__, drn.client.Client.__name__, "
        "drn.errors.DataRobotError.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["Template", "dr_notebook.enums", "Client", "DataRobotError"]


def test_the_types_public_methods_return_are_exported() -> None:
    names = (
        "ApplicationSourceVersion",
        "ApplicationLogs",
        "RuntimeParameter",
        "TemplateFile",
        "SyncResult",
        "WorkspaceItem",
        "Page",
    )
    for name in names:
        assert name in dr_notebook.__all__, name
        assert getattr(dr_notebook, name).__name__ == name


def private_imports(modules: dict[str, Path]) -> dict[str, list[str]]:
    """``from dr_notebook.x import _name`` where ``_name`` is not a module: reaching into
    another module's private members."""
    found: dict[str, list[str]] = {}
    for name, path in modules.items():
        for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith(
                "dr_notebook"
            ):
                continue
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                if private and f"{node.module}.{alias.name}" not in modules:
                    found.setdefault(name, []).append(f"{node.module}.{alias.name}")
    return found


def test_no_module_imports_another_modules_private_names(tmp_path: Path) -> None:
    assert private_imports(MODULES) == {}
    package = tmp_path / "planted"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("_SECRET = 1\n")
    planted = {"dr_notebook.planted.a": package / "a.py", "dr_notebook.planted.b": package / "b.py"}
    (package / "b.py").write_text("from dr_notebook.planted.a import _SECRET\n")
    assert private_imports(planted) == {"dr_notebook.planted.b": ["dr_notebook.planted.a._SECRET"]}


def test_the_sandbox_top_folder_holds_entry_points_and_wiring_only() -> None:
    top = sorted(p.name for p in (PACKAGE / "sandbox").iterdir() if p.is_file())
    assert "app.py" in top and len(top) <= 10, top
    layers = {p.name for p in (PACKAGE / "sandbox").iterdir() if p.is_dir()} - {"__pycache__"}
    assert layers == {"api", "service", "store", "runtime", "catalogue", "testing"}


def test_entities_show_as_cards_from_the_package_and_the_client_in_a_fresh_interpreter() -> None:
    """Models import no cards: the package's names and the client install them."""
    code = (
        "import dr_notebook as drn\n"
        "print(drn.Template(id='t', name='T')._repr_html_() is not None)\n"
    )
    via_client = (
        "from dr_notebook.models import Application\n"
        "print(Application(id='a')._repr_html_() is None)\n"
        "import dr_notebook.client\n"
        "print(Application(id='a')._repr_html_() is not None)\n"
    )
    for source, expected in ((code, ["True"]), (via_client, ["True", "True"])):
        out = subprocess.run(
            [sys.executable, "-c", source], capture_output=True, text=True, check=True
        )
        assert out.stdout.split() == expected
