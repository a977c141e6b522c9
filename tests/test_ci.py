"""What CI relies on fails loudly: `.ci/run` stops when the Neo4j server does not start and
runs the tests with CI=1, under which the Neo4j and Browser tests fail rather than skip;
`scripts/neo4j-server` takes no password on its command line; no test module's environment
settings leak into the others."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.neo4j_fixtures import unavailable

STUB = "#!/usr/bin/env bash\necho \"$(basename \"$0\") CI=${CI:-} NEO4J_URI=${NEO4J_URI:-} $*\" >>\"$CALLS\"\n"


def _run_ci(tmp_path: Path, neo4j_start_status: int) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """.ci/run in a copy of the repo whose neo4j-server, pip, python and browsers are stubs."""
    repo, bin_dir, calls = tmp_path / "repo", tmp_path / "bin", tmp_path / "calls"
    (repo / ".ci").mkdir(parents=True)
    (repo / "scripts").mkdir()
    bin_dir.mkdir()
    shutil.copy(REPO / ".ci" / "run", repo / ".ci" / "run")
    server = repo / "scripts" / "neo4j-server"
    server.write_text(
        '#!/usr/bin/env bash\nif [[ $1 == start ]]; then\n'
        f"  echo NEO4J_URI=bolt://127.0.0.1:1; exit {neo4j_start_status}\nfi\n"
    )
    for name in ("pip", "python", "chromium", "chromedriver", "apt-get"):
        (bin_dir / name).write_text(STUB)
    for path in (server, *bin_dir.iterdir()):
        path.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls)}
    env.pop("CI", None)
    result = subprocess.run(["bash", str(repo / ".ci" / "run")], capture_output=True, text=True, env=env,
                            timeout=60, check=False)
    return result, calls.read_text().splitlines() if calls.exists() else []


def test_ci_fails_when_the_neo4j_server_does_not_start(tmp_path: Path) -> None:
    result, calls = _run_ci(tmp_path, neo4j_start_status=1)
    assert result.returncode != 0
    assert not [c for c in calls if c.startswith(("pip", "python"))], "the tests ran without a Neo4j server"


def test_ci_runs_the_tests_with_ci_set_and_the_server_address(tmp_path: Path) -> None:
    result, calls = _run_ci(tmp_path, neo4j_start_status=0)
    assert result.returncode == 0, result.stderr
    assert "python CI=1 NEO4J_URI=bolt://127.0.0.1:1 -m pytest" in calls


def test_neo4j_server_refuses_a_password_on_its_command_line() -> None:
    result = subprocess.run([str(REPO / "scripts" / "neo4j-server"), "start", "--password", "sekrit-pw"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0 and result.stdout == ""
    assert "set HIPPO_NEO4J_PASSWORD instead" in result.stderr and "sekrit-pw" not in result.stderr


def test_missing_neo4j_prerequisites_skip_but_fail_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no java"):
        unavailable("no java")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match=r"no java .*CI is set"):
        unavailable("no java")


def test_triton_interpreter_setting_stays_in_the_triton_tests(tmp_path: Path) -> None:
    probe = tmp_path / "test_after_triton.py"
    probe.write_text('import os\n\n\ndef test_env():\n    assert "TRITON_INTERPRET" not in os.environ\n')
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_kernels_triton.py", str(probe)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
