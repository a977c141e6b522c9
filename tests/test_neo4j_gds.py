"""Personalized PageRank inside Neo4j (Graph Data Science, loaded by scripts/neo4j-server) ranks
the pushed sample graph as hippo's own kernel does."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import hippo_kernels as kernels
from hippo.graph import entity_id
from hippo.indexer import Indexer
from hippo.neo4j.connection import open_session
from hippo.neo4j.gds import personalized_pagerank, project_graph
from hippo.neo4j.push import push_index
from hippo.snapshot import load_snapshot
from hippo.stats import index_stats
from tests.conftest import SAMPLE
from tests.neo4j_fixtures import Neo4jServer, running_server

pytestmark = pytest.mark.neo4j
SEEDS = (("thomas keel",), ("ada brennan", "silent tide"))


@pytest.fixture(scope="session")
def server() -> Iterator[Neo4jServer]:
    yield from running_server()


@pytest.fixture(scope="module")
def pushed(server: Neo4jServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = tmp_path_factory.mktemp("gds") / "index"
    Indexer(index, quiet=True).run([SAMPLE])
    server.clear()
    push_index(index, server.config, quiet=True)
    return index


def _kernel_top(index: Path, seeds: tuple[str, ...], k: int) -> list[str]:
    snapshot = load_snapshot(index)
    reset = np.zeros(snapshot.node_count)
    offset = len(snapshot.passage_ids)
    for name in seeds:
        reset[offset + snapshot.entity_ids.index(entity_id(name))] = 1.0
    scores = kernels.ppr(snapshot.adjacency, reset, damping=0.5)[:offset]
    return [snapshot.passage_ids[i] for i in np.argsort(-scores, kind="stable")[:k]]


@pytest.mark.parametrize("seeds", SEEDS, ids=["one seed", "two seeds"])
def test_gds_ppr_ranks_passages_as_the_kernel_does(server: Neo4jServer, pushed: Path, seeds: tuple[str, ...]) -> None:
    with open_session(server.config) as session:
        nodes, relationships = project_graph(session)
        stats = index_stats(pushed)
        assert nodes == stats["passages"] + stats["entities"]
        ranked = personalized_pagerank(session, [entity_id(s) for s in seeds], top_k=5)
    assert relationships > 2 * stats["mention_edges"]  # mentions, facts and synonyms, both directions
    assert [pid for pid, _ in ranked] == _kernel_top(pushed, seeds, 5)
    assert all(a[1] >= b[1] > 0 for a, b in itertools.pairwise(ranked))
