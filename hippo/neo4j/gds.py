"""Personalized PageRank inside Neo4j with the Graph Data Science library, on the pushed graph.

For graphs that outgrow one machine's memory: the graph `hippo neo4j push` wrote is projected
into GDS's in-memory format on the database server, with hippo's edge weights (a mention of a
passage's own title weighs `--title-edge-weight`, a fact 1 per distinct relation, a synonym its
cosine; self-loops left out), undirected, so GDS ranks on the same graph as `kernels.ppr`.
GDS 2.13 (the last build for Neo4j 5.26, on Maven Central; `scripts/neo4j-server` loads it)
takes unweighted source nodes: every seed entity weighs the same there.
"""

from __future__ import annotations

from collections.abc import Sequence

import neo4j

PROJECTION = "hippo"

_PROJECT = """
MATCH (a)-[r:MENTIONS|FACT|SYNONYM]->(b) WHERE a <> b
WITH gds.graph.project($name, a, b, {relationshipProperties: {weight: coalesce(r.weight, r.similarity, 1.0)}},
                       {undirectedRelationshipTypes: ['*']}) AS g
RETURN g.nodeCount AS nodes, g.relationshipCount AS relationships
"""

_PPR = """
MATCH (e:Entity) WHERE e.id IN $seeds
WITH collect(e) AS seeds
CALL gds.pageRank.stream($name, {sourceNodes: seeds, dampingFactor: $damping,
                                 relationshipWeightProperty: 'weight', maxIterations: 100, tolerance: 1e-9})
YIELD nodeId, score
WITH gds.util.asNode(nodeId) AS node, score WHERE node:Passage
RETURN node.id AS id, score ORDER BY score DESC, id LIMIT $top_k
"""


def project_graph(session: neo4j.Session, name: str = PROJECTION) -> tuple[int, int]:
    """(Re)projects the pushed graph as GDS graph `name`; returns its node and relationship counts
    (each undirected edge counted in both directions)."""
    session.run("CALL gds.graph.drop($name, false) YIELD graphName RETURN graphName", name=name).consume()
    record = session.run(_PROJECT, name=name).single(strict=True)
    return int(record["nodes"]), int(record["relationships"])


def personalized_pagerank(
    session: neo4j.Session, seed_entities: Sequence[str], *, damping: float = 0.5, top_k: int = 10,
    name: str = PROJECTION,
) -> list[tuple[str, float]]:
    """The `top_k` passages (id, score) by personalized PageRank from the entities with ids
    `seed_entities` (equal weights), computed by GDS on projection `name`."""
    rows = session.run(_PPR, seeds=list(seed_entities), damping=damping, top_k=top_k, name=name)
    return [(str(r["id"]), float(r["score"])) for r in rows]
