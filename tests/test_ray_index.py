"""`hippo index --ray`: OpenIE and embedding on a real Ray cluster started on 127.0.0.1 give the
same index as a single-machine run."""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hippo.cli import main
from hippo.snapshot import load_snapshot
from tests.conftest import REPO, SAMPLE
from tests.llm_server import free_port

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="the ray extra is not installed")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A one-node Ray cluster (`ray start --head`) on 127.0.0.1 with two CPUs and token
    authentication; its address, and the environment a driver needs (the shared token)."""
    ray = shutil.which("ray")
    assert ray, "the ray command is not on PATH"
    port = free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    temp = tmp_path_factory.mktemp("ray")
    try:
        subprocess.run([ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus",
                        "2", "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", str(temp)],
                       check=True, capture_output=True, timeout=120, env=env)
        yield f"127.0.0.1:{port}", env
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=120, env=env)


def test_ray_index_equals_the_single_machine_index(cluster: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    address, env = cluster
    result = CliRunner().invoke(main, ["index", str(SAMPLE), "--index", str(tmp_path / "local"), "-q"])
    assert result.exit_code == 0, result.output
    subprocess.run([sys.executable, "-m", "hippo", "index", str(SAMPLE), "--index", str(tmp_path / "ray"), "-q",
                    "--ray", address], check=True, capture_output=True, timeout=300, env=env, cwd=REPO)
    here, there = load_snapshot(tmp_path / "local"), load_snapshot(tmp_path / "ray")
    assert there.passage_ids == here.passage_ids and len(here.passage_ids) == 22
    assert there.entity_names == here.entity_names
    facts = [[snapshot.fact_text(i) for i in range(len(snapshot.fact_ids))] for snapshot in (here, there)]
    assert facts[0] == facts[1] and len(facts[0]) > 20
    for name in ("edge_src", "edge_dst", "edge_kind"):
        assert np.array_equal(getattr(there, name), getattr(here, name)), name
    # Each actor encodes whole chunks, as one process does (the int8 encoder's scales depend on the
    # batch); only the actors' single thread may change the last bits of a sum.
    assert np.allclose(there.edge_weight, here.edge_weight, atol=1e-4)
    for name in ("passage_vectors", "entity_vectors", "fact_vectors"):
        assert np.min(np.sum(getattr(there, name) * getattr(here, name), axis=1)) > 0.9999, name


def test_an_unreachable_cluster_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["index", str(SAMPLE), "--index", str(tmp_path / "idx"), "--ray",
                                       f"127.0.0.1:{free_port()}"])
    assert result.exit_code == 2
    assert "cannot join the Ray cluster" in result.output and "ray start --head" in result.output
    assert not (tmp_path / "idx").exists()
