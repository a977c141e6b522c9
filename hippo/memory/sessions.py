"""Sessions as the results of a conversation index: a passage (turn) ranking turned into
ranked sessions with their text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hippo.memory.view import MemoryView, SessionHit, memory_view
from hippo.store import IndexStore


def conversation_view(context: Any) -> MemoryView | None:
    """The memory of a retrieval context's index when it holds conversations, else None."""
    view = memory_view(context, context.index_dir)
    return view if view is not None and view.is_conversation else None


def conversation_sessions(
    context: Any, ranking: Sequence[tuple[int, float]], top_k: int
) -> list[tuple[SessionHit, str]] | None:
    """The first `top_k` sessions of a passage ranking (snapshot indices) with each session's
    text (one `Speaker: words` line per turn); None when the index holds no conversation."""
    view = conversation_view(context)
    if view is None:
        return None
    ids = context.snapshot.passage_ids
    hits = view.sessions_from_passages([(ids[i], s) for i, s in ranking], top_k)
    with IndexStore.open(context.index_dir) as store:
        texts = {p.id: p.text for p in store.passages({pid for h in hits for pid in h.passage_ids})}
    return [(h, "\n".join(texts[pid].removeprefix(f"[{h.date}] ") for pid in h.passage_ids if pid in texts))
            for h in hits]
