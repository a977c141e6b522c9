"""Neo4j export: push an index's graph, record why `hippo ask` retrieved what it did, and
Cypher for exploring both in the Neo4j Browser."""

from hippo.neo4j.connection import Neo4jConfig
from hippo.neo4j.push import PushReport, graph_counts, push_index
from hippo.neo4j.trace import write_query_trace

__all__ = ["Neo4jConfig", "PushReport", "graph_counts", "push_index", "write_query_trace"]
