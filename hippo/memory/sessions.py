"""Sessions as the results of a conversation index: a passage (turn) ranking turned into
ranked sessions, each one passage of its turns, which the caller returns and the reader reads
(so a citation names a session and its date)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hippo.corpus import Passage
from hippo.memory.view import MemoryView, memory_view

KEPT = ("filter", "kept")  # state.cache key: passage indices the filter stage kept


@dataclass(frozen=True)
class SessionPassage(Passage):
    """A session as one passage: `id` its key, `title` key and date, `text` one
    `Speaker: words` line per turn; `turns` its dialog ids, those the ranking scored first."""

    session: str = ""
    date: str = ""
    turns: tuple[str, ...] = ()


def conversation_view(context: Any) -> MemoryView | None:
    """The memory of a retrieval context's index when it holds conversations, else None."""
    view = memory_view(context, context.index_dir)
    return view if view is not None and view.is_conversation else None


def conversation_sessions(context: Any, state: Any) -> list[tuple[Passage, float]] | None:
    """The first `state.top_k` sessions of the state's passage ranking with their scores;
    None when the index holds no conversation. After the filter stage a session's text holds
    only the turns it kept."""
    view = conversation_view(context)
    if view is None:
        return None
    ids = context.snapshot.passage_ids
    hits = view.sessions_from_passages([(ids[i], s) for i, s in state.ranking], state.top_k)
    kept = {ids[int(i)] for i in state.cache.get(KEPT, np.zeros(0))} if KEPT in state.cache else None
    snapshot, positions = context.snapshot, context.snapshot.passage_index
    texts = {pid: snapshot.passage(positions[pid]).text for h in hits for pid in h.passage_ids if pid in positions}
    sessions: list[tuple[Passage, float]] = []
    for hit in hits:
        shown = [pid for pid in hit.passage_ids if pid in texts and (kept is None or pid in kept)]
        text = "\n".join(texts[pid].removeprefix(f"[{hit.date}] ") for pid in shown)
        sessions.append((SessionPassage(hit.key, f"{hit.key} ({hit.date})" if hit.date else hit.key, text,
                                        hit.key, hit.date, hit.turns), hit.score))
    return sessions
