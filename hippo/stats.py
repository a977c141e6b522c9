"""Summary figures of an index: record counts, graph edges by kind, models, size on disk, and
whether it is up to date. Reading them writes nothing (a read-only index has stats too)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hippo.errors import IndexFormatError
from hippo.graph import FACT_EDGE, MENTION_EDGE, SYNONYM_EDGE
from hippo.memory.global_memory import memory_summary
from hippo.memory.store import memory_counts
from hippo.snapshot import GraphSnapshot, current_generation, load_snapshot
from hippo.store import IndexStore, writer_active

UP_TO_DATE = "up to date"


def index_stats(root: Path) -> dict[str, object]:
    """Counts, models, disk size and update state of the index at `root`."""
    with IndexStore.open(root) as store:
        counts = store.counts()
        settings = store.settings
        dirty = store.dirty
    try:
        snapshot, problem = (load_snapshot(root) if current_generation(root) else None), None
    except IndexFormatError as err:  # a corrupt pointer or snapshot: stats says so and how to repair it
        snapshot, problem = None, str(err)
    stats: dict[str, object] = {
        "documents": counts["documents"],
        "passages": counts["passages"],
        "entities": counts["entities"],
        "facts": counts["facts"],
    }
    if snapshot is not None:
        kinds = np.bincount(np.asarray(snapshot.edge_kind), minlength=3)
        stats.update({
            "fact_edges": int(kinds[FACT_EDGE]),
            "mention_edges": int(kinds[MENTION_EDGE]),
            "synonymy_edges": int(kinds[SYNONYM_EDGE]),
            "edges": int(kinds.sum()),
            "searchable_passages": len(snapshot.passage_ids),
        })
    stats.update(memory_counts(root))
    state = problem or update_state(root, snapshot, dirty)
    stats.update({
        "passages_without_triples": counts["passages_without_triples"],
        "extraction_repairs": counts["extraction_repairs"],
        "embedding_model": settings.embedding_model,
        "encoder": settings.encoder,
        "extractor": settings.extractor,
        "global_memory": memory_summary(root),
        "index_bytes": sum(p.stat().st_size for p in root.rglob("*") if p.is_file()),
        "up_to_date": state == UP_TO_DATE,
        "state": state,
    })
    return stats


def update_state(root: Path, snapshot: GraphSnapshot | None, dirty: bool) -> str:
    """"up to date", or what is unfinished and what queries see meanwhile."""
    if writer_active(root):
        return "being indexed by another process now; queries use the last complete graph"
    resume = f"re-run `hippo index CORPUS --index {root}` to finish"
    if snapshot is None:
        return f"incomplete: indexing stopped before the first graph was written; {resume}"
    if dirty:
        return (f"update interrupted: records changed since the graph was written and queries use "
                f"that last complete graph ({len(snapshot.passage_ids)} passages); {resume}")
    return UP_TO_DATE
