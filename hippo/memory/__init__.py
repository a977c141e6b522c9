"""Corpus-level memories kept in the index beside the graph (MemoRAG's global memory)."""
