"""The demo app builds on the domain apps; none of them may import it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_APPS = ["accounts", "customers", "surveys", "metrics", "loyalty"]


def _imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("app", DOMAIN_APPS)
def test_domain_apps_never_import_the_demo(app):
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in sorted((ROOT / app).rglob("*.py"))
        for module in sorted(_imported_modules(path))
        if module == "demo" or module.startswith("demo.") or module.endswith(".demo")
    ]
    assert not offenders
