"""Memories kept in the index beside the graph.

MemGAS: units at several granularities, GMM association edges, and the view that routing
reads at query time (with BM25 over chosen granularities' texts, `hippo.memory.lexical`).
`hippo.memory.build.update_memory` runs at the end of every `hippo index`: it brings the
units of new or changed documents (sessions for conversations) up to date in `memory.sqlite`
inside the index and links each new unit to earlier ones (`hippo.memory.associate`).

MemoRAG: the corpus-level global memory (`hippo.memory.global_memory`) that the `clues` stage
reads.
"""
