"""Cypher to paste into the Neo4j Browser, with example parameters taken from an index."""

from __future__ import annotations

import json
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

from hippo.neo4j.connection import Neo4jConfig
from hippo.store import IndexStore

MAX_PATH_HOPS = 6


@dataclass(frozen=True)
class GuideQuery:
    """One Browser query and what it shows."""

    title: str
    cypher: str


GUIDE_QUERIES = (
    GuideQuery(
        "What hippo pushed: nodes by label and relationships by type",
        "MATCH (n) RETURN labels(n)[0] AS kind, count(*) AS count\n"
        "UNION ALL\nMATCH ()-[r]->() RETURN type(r) AS kind, count(*) AS count",
    ),
    GuideQuery(
        "An entity's neighbourhood: its facts, synonyms and the passages that mention it",
        "MATCH (e:Entity {name: $entity})-[r:FACT|SYNONYM|MENTIONS]-(n)\nRETURN e, r, n LIMIT 100",
    ),
    GuideQuery(
        "The passages behind each fact about an entity",
        "MATCH (s:Entity {name: $entity})-[f:FACT]-(o:Entity)\n"
        "UNWIND f.passages AS passage_id\nMATCH (p:Passage {id: passage_id})\n"
        "RETURN s, f, o, p LIMIT 100",
    ),
    GuideQuery(
        f"Paths between two entities (through facts, synonyms and shared passages, up to {MAX_PATH_HOPS} hops)",
        "MATCH (a:Entity {name: $source}), (b:Entity {name: $target})\n"
        f"MATCH path = allShortestPaths((a)-[:FACT|SYNONYM|MENTIONS*..{MAX_PATH_HOPS}]-(b))\n"
        "RETURN path LIMIT 10",
    ),
    GuideQuery(
        "The latest question from `hippo ask --explain --neo4j`: seed entities (weight), "
        "retrieved passages (rank, score) and the mentions linking them",
        "MATCH (q:Query) WITH q ORDER BY q.asked_at DESC LIMIT 1\n"
        "MATCH (q)-[r:SEED|RETRIEVED]->(n)\n"
        "OPTIONAL MATCH (n:Passage)-[m:MENTIONS]->(e:Entity)<-[:SEED]-(q)\n"
        "RETURN q, r, n, m, e",
    ),
)


def example_params(root: Path) -> dict[str, str]:
    """`entity`: the index's most connected entity; `source`/`target`: it and the entity
    farthest from it within the path query's reach. Placeholders when there is no index."""
    if not (root / "index.sqlite").exists():
        return {"entity": "<entity name>", "source": "<entity name>", "target": "<another entity name>"}
    with IndexStore.open(root) as store:
        names = store.entities()
        edges = [(s, o) for s, _, o in store.facts().values()]
        edges += [(a, b) for a, b, _ in store.synonyms()]
        edges += store.passage_entities()
    if not names:
        return {"entity": "", "source": "", "target": ""}
    neighbours: dict[str, set[str]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    degree = Counter({eid: len(neighbours.get(eid, ())) for eid in names})
    hub = min(degree, key=lambda eid: (-degree[eid], names[eid]))
    far = _farthest_entity(hub, neighbours, names)
    return {"entity": names[hub], "source": names[hub], "target": names[far]}


def _farthest_entity(start: str, neighbours: dict[str, set[str]], entities: dict[str, str]) -> str:
    """The entity with the longest shortest path from `start` within MAX_PATH_HOPS hops
    (ties broken by name), or `start` when nothing is reachable."""
    hops = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if hops[node] == MAX_PATH_HOPS:
            continue
        for nxt in sorted(neighbours.get(node, ())):
            if nxt not in hops:
                hops[nxt] = hops[node] + 1
                queue.append(nxt)
    return min((n for n in hops if n in entities), key=lambda n: (-hops[n], entities[n]))


def render_guide(config: Neo4jConfig, params: dict[str, str]) -> str:
    """The guide as text: how to open the Browser, a `:params` line, then each query."""
    literal = ", ".join(f"{key}: {json.dumps(value)}" for key, value in params.items())
    lines = [
        f"// Open the Neo4j Browser at {config.browser_url} (`scripts/neo4j-server status` prints the",
        "// address of the one it serves),",
        f"// and connect to {config.uri} as {config.user}. Push first: hippo neo4j push --index DIR",
        "// Paste the :params line once, then any query below.",
        "",
        f":params {{{literal}}}",
    ]
    for number, query in enumerate(GUIDE_QUERIES, 1):
        lines += ["", f"// {number}. {query.title}", f"{query.cypher};"]
    return "\n".join(lines)
