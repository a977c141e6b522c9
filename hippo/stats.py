"""Summary figures of an index: record counts, graph edges by kind, models, size on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hippo.graph import FACT_EDGE, MENTION_EDGE, SYNONYM_EDGE
from hippo.memory.global_memory import memory_summary
from hippo.snapshot import load_snapshot, snapshot_exists
from hippo.store import IndexStore


def index_stats(root: Path) -> dict[str, object]:
    """Counts, models and disk size of the index at `root`."""
    with IndexStore.open(root) as store:
        counts = store.counts()
        settings = store.settings
        dirty = store.dirty
    stats: dict[str, object] = {
        "documents": counts["documents"],
        "passages": counts["passages"],
        "entities": counts["entities"],
        "facts": counts["facts"],
    }
    if snapshot_exists(root):
        kinds = np.bincount(np.asarray(load_snapshot(root).edge_kind), minlength=3)
        stats.update({
            "fact_edges": int(kinds[FACT_EDGE]),
            "mention_edges": int(kinds[MENTION_EDGE]),
            "synonymy_edges": int(kinds[SYNONYM_EDGE]),
            "edges": int(kinds.sum()),
        })
    stats.update({
        "passages_without_triples": counts["passages_without_triples"],
        "extraction_repairs": counts["extraction_repairs"],
        "embedding_model": settings.embedding_model,
        "extractor": settings.extractor,
        "global_memory": memory_summary(root),
        "index_bytes": sum(p.stat().st_size for p in root.rglob("*") if p.is_file()),
        "up_to_date": not dirty,
    })
    return stats
