"""The retrieval graph as a networkx graph, and written as GraphML or GEXF for Gephi and friends.

It is the graph Personalized PageRank walks: undirected, one node per passage and per entity,
one edge per joined pair, its weighted adjacency equal to the one PPR uses. Node ids are the
index's stable passage and entity ids (the `id` property in Neo4j, the ids in the index's SQLite).

Node attributes: `kind` ("passage" or "entity"), `name` (the entity's name, or the passage's
title) and `title` (the passage's title; "" for entities). Edge attributes: `kind` ("fact",
"mention" or "synonym"; "fact+synonym" for two entities joined both ways), `weight` (the PPR
edge weight: for a fact edge the number of distinct relations joining the pair, for a mention
edge 1 or the title weight, for a synonym edge the cosine similarity; summed over kinds) and
`relation` (a fact edge's relations, "; "-joined; "" otherwise).
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import IO, TYPE_CHECKING

from hippo.errors import HippoError
from hippo.graph import FACT_EDGE, MENTION_EDGE, SYNONYM_EDGE
from hippo.snapshot import GraphSnapshot, load_snapshot
from hippo.store import IndexStore

if TYPE_CHECKING:
    import networkx as nx

FORMATS = ("graphml", "gexf")
EDGE_KINDS = {FACT_EDGE: "fact", MENTION_EDGE: "mention", SYNONYM_EDGE: "synonym"}


def index_to_networkx(index_dir: Path) -> nx.Graph:
    """The index's retrieval graph as an undirected networkx Graph (attributes: module doc)."""
    IndexStore.open(index_dir).close()  # a missing or foreign index is refused as such
    snapshot = load_snapshot(index_dir)
    titles = {pid: snapshot.passage(i).title for i, pid in enumerate(snapshot.passage_ids)}
    return snapshot_to_networkx(snapshot, titles)


def snapshot_to_networkx(snapshot: GraphSnapshot, titles: dict[str, str]) -> nx.Graph:
    """`snapshot` as a networkx Graph; `titles` maps passage ids to titles."""
    import networkx as nx

    graph = nx.Graph()
    for pid in snapshot.passage_ids:
        title = titles.get(pid, "")
        graph.add_node(pid, kind="passage", name=title, title=title)
    for eid, name in zip(snapshot.entity_ids, snapshot.entity_names, strict=True):
        graph.add_node(eid, kind="entity", name=name, title="")
    node_ids = [*snapshot.passage_ids, *snapshot.entity_ids]
    relations = _fact_relations(snapshot)
    for src, dst, weight, kind in zip(snapshot.edge_src.tolist(), snapshot.edge_dst.tolist(),
                                      snapshot.edge_weight.tolist(), snapshot.edge_kind.tolist(), strict=True):
        u, v = node_ids[src], node_ids[dst]
        relation = "; ".join(relations.get((min(src, dst), max(src, dst)), ())) if kind == FACT_EDGE else ""
        if graph.has_edge(u, v):  # a second kind joining the same pair
            edge = graph.edges[u, v]
            kinds = sorted({*edge["kind"].split("+"), EDGE_KINDS[kind]})
            edge.update(kind="+".join(kinds), weight=edge["weight"] + weight, relation=edge["relation"] or relation)
        else:
            graph.add_edge(u, v, kind=EDGE_KINDS[kind], weight=float(weight), relation=relation)
    return graph


def _fact_relations(snapshot: GraphSnapshot) -> dict[tuple[int, int], list[str]]:
    """Distinct relation texts of the facts joining each (lower, higher) node pair, sorted."""
    offset = len(snapshot.passage_ids)
    found: defaultdict[tuple[int, int], set[str]] = defaultdict(set)
    for subject, obj, relation in zip(snapshot.fact_subject.tolist(), snapshot.fact_object.tolist(),
                                      snapshot.fact_relations, strict=True):
        a, b = offset + subject, offset + obj
        found[(min(a, b), max(a, b))].add(relation)
    return {pair: sorted(texts) for pair, texts in found.items()}


def write_graph(graph: nx.Graph, target: Path | IO[bytes], fmt: str) -> None:
    """Writes `graph` as GraphML or GEXF to a path (atomically: a temp file renamed) or a binary
    stream. In GEXF a node's `name` is also its label (what Gephi shows)."""
    import networkx as nx

    if fmt not in FORMATS:
        raise HippoError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "gexf":
        graph = graph.copy()
        nx.set_node_attributes(graph, {n: d["name"] or n for n, d in graph.nodes(data=True)}, "label")
    writer = nx.write_graphml if fmt == "graphml" else nx.write_gexf
    if not isinstance(target, Path):
        writer(graph, target)
        return
    try:
        handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise HippoError(f"-o {target}: cannot write there ({err.strerror}); give a writable path") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            writer(graph, stream)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
