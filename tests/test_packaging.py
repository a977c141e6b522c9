"""What `pip install` ships: pyproject.toml lists the packages by hand (the PPR kernels are
kernels/hippo_kernels), so every package folder must be listed; nothing may import a top-level
`kernels` and no `kernels` package may sit at the repository root: transformers imports Hugging
Face's package of that name, and either would shadow the other."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from tests.conftest import REPO


def test_pyproject_lists_every_package() -> None:
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "hippo").rglob("__init__.py")}
    assert set(setuptools["packages"]) == folders | {"hippo_kernels", "pipelines"}
    assert setuptools["package-dir"] == {"hippo_kernels": "kernels/hippo_kernels"}
    assert (REPO / "kernels" / "hippo_kernels" / "__init__.py").is_file()
    assert not (REPO / "kernels" / "__init__.py").exists()


def _top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_imports_a_top_level_kernels_package() -> None:
    folders = ("hippo", "kernels", "bench", "tests", "pipelines")
    sources = [p for folder in folders for p in (REPO / folder).rglob("*.py")]
    offenders = [str(p.relative_to(REPO)) for p in sources if "kernels" in _top_level_imports(p)]
    assert sources and offenders == []
