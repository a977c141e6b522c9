"""Record why `hippo ask` retrieved its passages: a `:Query` node linked to its PPR seed
entities, its ranked passages and its MemoRAG clues (`:Clue` nodes linked to the passages
each retrieved on its own)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import NamedTuple

import neo4j

from hippo.errors import HippoError
from hippo.neo4j.connection import Neo4jConfig, open_session
from hippo.neo4j.push import ensure_constraints

_WRITE = """
MERGE (q:Query {id: $id})
SET q.text = $question, q.asked_at = datetime()
WITH q
OPTIONAL MATCH (q)-[old:SEED|RETRIEVED]->()
DELETE old
WITH DISTINCT q
OPTIONAL MATCH (q)-[:CLUE]->(stale:Clue)
DETACH DELETE stale
WITH DISTINCT q
CALL {
  WITH q
  UNWIND $seeds AS seed
  MATCH (e:Entity {id: seed.id})
  CREATE (q)-[:SEED {weight: seed.weight}]->(e)
  RETURN count(*) AS seeds
}
CALL {
  WITH q
  UNWIND $passages AS hit
  MATCH (p:Passage {id: hit.id})
  CREATE (q)-[:RETRIEVED {rank: hit.rank, score: hit.score}]->(p)
  RETURN count(*) AS passages
}
CALL {
  WITH q
  UNWIND range(0, size($clues) - 1) AS position
  WITH q, position, $clues[position] AS clue
  CREATE (q)-[:CLUE {position: position}]->(c:Clue {text: clue.text, weight: clue.weight, source: clue.source})
  WITH c, clue
  UNWIND clue.retrieved AS hit
  MATCH (p:Passage {id: hit.id})
  CREATE (c)-[:RETRIEVED {rank: hit.rank, score: hit.score}]->(p)
  RETURN count(*) AS clue_passages
}
RETURN seeds, passages, clue_passages
"""


class Clue(NamedTuple):
    """A clue query and the (passage id, rank, score) passages it retrieved on its own."""

    text: str
    weight: float
    source: str
    retrieved: list[tuple[str, int, float]]


def query_id(question: str) -> str:
    """Stable key of a question: asking it again replaces its trace."""
    return hashlib.sha1(f"query\n{question}".encode()).hexdigest()[:16]


def write_query_trace(
    config: Neo4jConfig, question: str, seeds: dict[str, float], passages: list[tuple[str, int, float]],
    clues: Sequence[Clue] = (),
) -> None:
    """Writes `(:Query)-[:SEED {weight}]->(:Entity)` for each seed entity id,
    `(:Query)-[:RETRIEVED {rank, score}]->(:Passage)` for each (passage id, rank, score) and
    `(:Query)-[:CLUE {position}]->(:Clue {text, weight, source})-[:RETRIEVED {rank, score}]->(:Passage)`
    for each clue and the passages it retrieved.

    Raises HippoError, writing nothing, when the database lacks any of those nodes (the
    index was not pushed, or changed since).
    """
    params = {
        "id": query_id(question), "question": question,
        "seeds": [{"id": eid, "weight": float(w)} for eid, w in seeds.items()],
        "passages": [{"id": pid, "rank": int(rank), "score": float(score)} for pid, rank, score in passages],
        "clues": [{"text": c.text, "weight": float(c.weight), "source": c.source,
                   "retrieved": [{"id": pid, "rank": int(rank), "score": float(score)}
                                 for pid, rank, score in c.retrieved]} for c in clues],
    }
    with open_session(config) as session:
        ensure_constraints(session)
        session.execute_write(_write, params, len(seeds) + len(passages) + sum(len(c.retrieved) for c in clues))


def _write(tx: neo4j.ManagedTransaction, params: dict[str, object], expected: int) -> None:
    record = tx.run(_WRITE, params).single(strict=True)
    missing = expected - record["seeds"] - record["passages"] - record["clue_passages"]
    if missing:
        raise HippoError(
            f"Neo4j lacks {missing} of the question's seed entities/passages; "
            "run `hippo neo4j push --index DIR` for this index first"
        )
