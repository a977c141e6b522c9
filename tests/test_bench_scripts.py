"""Every benchmark script starts as its docs run it (`python bench/NAME.py`): a folder under
bench/ named like a hippo package (bench/pipelines once) would shadow it on sys.path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPTS = sorted((REPO / "bench").glob("*.py"))


def test_no_bench_folder_shadows_a_top_level_package() -> None:
    packages = {"hippo", "kernels", "pipelines", "tests"}
    assert not packages & {p.name for p in (REPO / "bench").iterdir() if p.is_dir()}


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_bench_script_help_runs(script: Path) -> None:
    result = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True,
                            cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout
