"""The client side stays in small modules: none over 500 lines (the sandbox is a server of its
own and is not counted)."""

from __future__ import annotations

from pathlib import Path

import dr_notebook

LIMIT = 500
PACKAGE = Path(dr_notebook.__file__).resolve().parent


def client_modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "sandbox" not in p.relative_to(PACKAGE).parts]


def test_no_client_module_over_500_lines() -> None:
    modules = client_modules()
    assert len(modules) > 30  # the walk found the package
    sizes = {p.relative_to(PACKAGE).as_posix(): len(p.read_text().splitlines()) for p in modules}
    assert max(sizes.values()) > 200  # control: real modules were read
    too_long = {name: n for name, n in sizes.items() if n > LIMIT}
    assert too_long == {}, too_long
