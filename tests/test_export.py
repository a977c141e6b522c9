"""`Hippo.to_networkx()` and `hippo export`: the retrieval graph for networkx and Gephi, checked
against the index and read back from GraphML and GEXF."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from click.testing import CliRunner

from hippo import Hippo
from hippo.cli import main
from hippo.corpus import Passage
from hippo.export import snapshot_to_networkx
from hippo.snapshot import GraphSnapshot, load_snapshot, pack_passages
from hippo.stats import index_stats
from hippo.store import IndexStore


@pytest.fixture(scope="module")
def graph(sample_index: Path) -> nx.Graph:
    return Hippo(sample_index).to_networkx()


def _node_id(graph: nx.Graph, kind: str, name: str) -> str:
    [node] = [n for n, d in graph.nodes(data=True) if d["kind"] == kind and d["name"] == name]
    return node


def test_graph_matches_the_index(graph: nx.Graph, sample_index: Path) -> None:
    stats = index_stats(sample_index)
    snapshot = load_snapshot(sample_index)
    kinds = [d["kind"] for _, d in graph.nodes(data=True)]
    assert (kinds.count("passage"), kinds.count("entity")) == (stats["passages"], stats["entities"])
    edge_kinds = [d["kind"] for _, _, d in graph.edges(data=True)]
    assert edge_kinds.count("mention") == stats["mention_edges"]
    assert edge_kinds.count("synonym") == stats["synonymy_edges"]
    # the weighted adjacency is the one PPR walks
    order = [*snapshot.passage_ids, *snapshot.entity_ids]
    np.testing.assert_allclose(nx.to_scipy_sparse_array(graph, nodelist=order).toarray(),
                               snapshot.adjacency.toarray())
    with IndexStore.open(sample_index) as store:
        titles = {p.title for p in store.passages()}
    assert {d["title"] for _, d in graph.nodes(data=True) if d["kind"] == "passage"} == titles


def test_fact_and_title_edges_carry_their_relation_and_weight(graph: nx.Graph, sample_index: Path) -> None:
    keel, viaduct = _node_id(graph, "entity", "thomas keel"), _node_id(graph, "entity", "marlow viaduct")
    fact = graph.edges[keel, viaduct]
    assert fact["kind"] == "fact" and "design" in fact["relation"] and fact["weight"] >= 1
    passage = _node_id(graph, "passage", "Marlow Viaduct")
    with IndexStore.open(sample_index) as store:
        title_weight = store.settings.title_edge_weight
    assert graph.edges[passage, viaduct] == {"kind": "mention", "weight": title_weight, "relation": ""}


@pytest.mark.parametrize("fmt", ["graphml", "gexf"])
def test_export_round_trips(fmt: str, graph: nx.Graph, sample_index: Path, tmp_path: Path) -> None:
    target = tmp_path / f"graph.{fmt}"  # the format comes from the suffix
    result = CliRunner().invoke(main, ["export", "--index", str(sample_index), "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert f"wrote {graph.number_of_nodes()} nodes and {graph.number_of_edges()} edges" in result.output
    back = nx.read_graphml(target) if fmt == "graphml" else nx.read_gexf(target)
    assert not back.is_directed()
    nodes = {n: {k: d[k] for k in ("kind", "name", "title")} for n, d in back.nodes(data=True)}
    assert nodes == dict(graph.nodes(data=True))
    edges = {frozenset((u, v)): (d["kind"], d["weight"], d["relation"]) for u, v, d in back.edges(data=True)}
    assert edges == {frozenset((u, v)): (d["kind"], d["weight"], d["relation"]) for u, v, d in graph.edges(data=True)}
    if fmt == "gexf":  # Gephi shows the label
        assert back.nodes[_node_id(graph, "entity", "thomas keel")]["label"] == "thomas keel"


def test_export_to_stdout_is_graphml(sample_index: Path, graph: nx.Graph, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["export", "--index", str(sample_index)])
    assert result.exit_code == 0
    (tmp_path / "out.graphml").write_bytes(result.stdout_bytes)
    assert nx.read_graphml(tmp_path / "out.graphml").number_of_edges() == graph.number_of_edges()


@pytest.mark.parametrize(("args", "message"), [
    (["--index", "{tmp}/nothing-here"], "error: "),
    (["-o", "{tmp}/missing-dir/graph.graphml"], "error: -o {tmp}/missing-dir/graph.graphml: cannot write there"),
    (["--format", "dot"], "Invalid value for '--format'"),
])
def test_bad_export_arguments_are_one_line_errors(
    args: list[str], message: str, sample_index: Path, tmp_path: Path
) -> None:
    argv = ["export", "--index", str(sample_index), *(a.format(tmp=tmp_path) for a in args)]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 2 and message.format(tmp=tmp_path) in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.glob("**/*.tmp"))


def test_a_pair_joined_by_a_fact_and_a_synonym_is_one_edge() -> None:
    snapshot = GraphSnapshot(
        **pack_passages([Passage("p", "Ada", "")]), entity_ids=["a", "b"], entity_names=["ada", "ada brennan"],
        fact_ids=["f1", "f2"],
        fact_relations=["is", "called"], fact_subject=np.array([0, 1]), fact_object=np.array([1, 0]),
        passage_vectors=np.zeros((1, 2)), entity_vectors=np.zeros((2, 2)), fact_vectors=np.zeros((2, 2)),
        edge_src=np.array([1, 0, 1]), edge_dst=np.array([2, 1, 2]), edge_weight=np.array([2.0, 1.0, 0.9]),
        edge_kind=np.array([0, 1, 2]), info={},
    )
    graph = snapshot_to_networkx(snapshot, {"p": "Ada"})
    assert graph.number_of_edges() == 2
    assert graph.edges["a", "b"] == {"kind": "fact+synonym", "weight": pytest.approx(2.9), "relation": "called; is"}
