"""Record why `hippo ask` retrieved its passages: a `:Query` node linked to its PPR seed
entities and its ranked passages."""

from __future__ import annotations

import hashlib

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
RETURN seeds, passages
"""


def query_id(question: str) -> str:
    """Stable key of a question: asking it again replaces its trace."""
    return hashlib.sha1(f"query\n{question}".encode()).hexdigest()[:16]


def write_query_trace(
    config: Neo4jConfig, question: str, seeds: dict[str, float], passages: list[tuple[str, int, float]],
) -> None:
    """Writes `(:Query)-[:SEED {weight}]->(:Entity)` for each seed entity id and
    `(:Query)-[:RETRIEVED {rank, score}]->(:Passage)` for each (passage id, rank, score).

    Raises HippoError, writing nothing, when the database lacks any of those nodes (the
    index was not pushed, or changed since).
    """
    params = {
        "id": query_id(question), "question": question,
        "seeds": [{"id": eid, "weight": float(w)} for eid, w in seeds.items()],
        "passages": [{"id": pid, "rank": int(rank), "score": float(score)} for pid, rank, score in passages],
    }
    with open_session(config) as session:
        ensure_constraints(session)
        session.execute_write(_write, params, len(seeds) + len(passages))


def _write(tx: neo4j.ManagedTransaction, params: dict[str, object], expected: int) -> None:
    record = tx.run(_WRITE, params).single(strict=True)
    missing = expected - record["seeds"] - record["passages"]
    if missing:
        raise HippoError(
            f"Neo4j lacks {missing} of the question's seed entities/passages; "
            "run `hippo neo4j push --index DIR` for this index first"
        )
