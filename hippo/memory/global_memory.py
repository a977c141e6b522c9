"""MemoRAG's global memory: a compressed view of the whole corpus, built at index time.

The corpus is cut into *pieces*: consecutive passages of one document, about `PIECE_WORDS`
words each (MemoRAG-lite cuts ~4k-token pieces for a larger model). Each piece gets one
memory text:

* ``extractive`` (no LLM): what the index already knows about the piece — its passages'
  titles, its central entities (mentioned by the most of its passages, then in the most of
  its facts), the facts among them, and its most central sentences (those naming the most
  central entities);
* ``gist``: an LLM's gist of the piece (MemoRAG-lite), through the cached LLM client;
* ``none``: no memory.

Texts and their embeddings live in one file, ``INDEX/memory.npz``, replaced atomically
(written beside it, fsynced, renamed), with the document and content hash each piece was cut
from. Updates are incremental: only new or changed documents are cut again (their passages
read), and a piece whose mode, writer and passages are unchanged keeps its text and vector;
only new or changed pieces are written.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hippo.corpus import Passage, split_sentences
from hippo.errors import HippoError, IndexFormatError
from hippo.llm.client import LLM
from hippo.llm.clues import write_gists
from hippo.store import IndexStore

MEMORY_MODES: tuple[str, ...] = ("gist", "extractive", "none")
DEFAULT_MODE = "extractive"
MEMORY_FILE = "memory.npz"
PIECE_WORDS = 1500  # about 2k tokens: a piece and its gist fit the bundled 4k-context model
CENTRAL_ENTITIES = 8
CENTRAL_FACTS = 6
CENTRAL_SENTENCES = 3
PIECE_BLOCK = 10_000  # pieces written at a time (their passages and records in memory)


@dataclass(frozen=True)
class MemoryPiece:
    """One piece of the corpus and its memory text."""

    id: str  # hash of the mode, the writer and the piece's passages: unchanged piece, same id
    passage_ids: tuple[str, ...]
    text: str


@dataclass
class GlobalMemory:
    """The memory of an index: its pieces, in corpus order, with unit-length vectors."""

    mode: str
    pieces: list[MemoryPiece]
    vectors: np.ndarray
    documents: list[tuple[str, str, int]] = field(default_factory=list)  # (id, sha256, pieces) in piece order

    def cut(self) -> dict[str, tuple[str, list[tuple[str, ...]]]]:
        """Document id -> (its content hash, the passage ids of each of its pieces), as cut."""
        cut, start = {}, 0
        for doc_id, sha256, count in self.documents:
            cut[doc_id] = (sha256, [p.passage_ids for p in self.pieces[start:start + count]])
            start += count
        return cut

    def words(self) -> int:
        """Total words of the memory text."""
        return sum(len(p.text.split()) for p in self.pieces)

    def select(self, query_vector: np.ndarray, max_words: int) -> list[MemoryPiece]:
        """The pieces most similar to the query that fit in `max_words`, in corpus order
        (all of them when the whole memory fits)."""
        if self.words() <= max_words:
            return list(self.pieces)
        order = np.argsort(-(self.vectors @ query_vector), kind="stable")
        chosen, used = [], 0
        for i in order:
            size = len(self.pieces[i].text.split())
            if used + size <= max_words:
                chosen.append(int(i))
                used += size
        return [self.pieces[i] for i in sorted(chosen)]


def check_mode(mode: str | None) -> None:
    """HippoError naming the allowed modes unless `mode` is one of them (or None: keep)."""
    if mode is not None and mode not in MEMORY_MODES:
        raise HippoError(f"--memory {mode!r} is not a memory mode; use one of {', '.join(MEMORY_MODES)}")


def memory_path(index_dir: Path) -> Path:
    return Path(index_dir) / MEMORY_FILE


def load_memory(index_dir: Path) -> GlobalMemory | None:
    """The index's global memory; None when it has none (never built, or ``--memory none``)."""
    path = memory_path(index_dir)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            record = json.loads(str(data["record"]))
            vectors = np.asarray(data["vectors"], dtype=np.float32)
        pieces = [MemoryPiece(p["id"], tuple(p["passages"]), p["text"]) for p in record["pieces"]]
        mode = str(record["mode"])
        documents = [(str(d), str(sha), int(n)) for d, sha, n in record.get("documents", [])]  # none: cut all again
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise IndexFormatError(f"{path}: global memory unreadable ({err}); re-run `hippo index`") from None
    return GlobalMemory(mode, pieces, vectors, documents) if mode != "none" else None


def stored_mode(index_dir: Path) -> str | None:
    """The mode the index's memory was last built with; None when it was never built."""
    path = memory_path(index_dir)
    if not path.exists():
        return None
    memory = load_memory(index_dir)
    return memory.mode if memory is not None else "none"


@dataclass(frozen=True)
class MemoryReport:
    """What one update did: the mode, how many pieces the memory has and how many were written."""

    mode: str
    pieces: int
    written: int

    def summary(self) -> str:
        """One line for humans."""
        if self.mode == "none":
            return "no global memory"
        return f"{self.mode} memory of {self.pieces} pieces ({self.written} written)"


def memory_summary(index_dir: Path) -> str:
    """`hippo stats`'s line: the memory's mode, pieces and size ("not built" before any)."""
    mode = stored_mode(index_dir)
    memory = load_memory(index_dir) if mode not in (None, "none") else None
    if memory is None:
        return mode or "not built"
    return f"{mode}, {len(memory.pieces)} pieces, {memory_path(index_dir).stat().st_size / 1024:.0f} KiB"


def update_global_memory(
    index_dir: Path, store: IndexStore, mode: str | None, llm_options: dict[str, Any],
) -> str:
    """The indexer's hook: `refresh_memory` with, for ``gist``, the LLM of `llm_options`
    (`llm`, `llm_model`, `cache_path`, as for LLM OpenIE); its summary."""

    def make_llm() -> LLM:
        from hippo.llm import make_llm as make

        return make(llm_options.get("llm"), llm_options.get("llm_model"), cache_path=llm_options.get("cache_path"))

    return refresh_memory(index_dir, store, mode, make_llm).summary()


def refresh_memory(
    index_dir: Path, store: IndexStore, mode: str | None, make_llm: Callable[[], LLM] | None = None,
) -> MemoryReport:
    """Brings the index's memory up to date with its passages (the indexer's hook, after the
    passages are embedded).

    `mode` None keeps the mode the index has (``extractive`` for a new index). For ``gist``
    the LLM is made only when some piece needs writing. A piece's vector is the normalized mean
    of its passages' vectors: it stands for the whole piece (the encoder would read only the
    first 256 tokens of a memory text) and needs no encoding.
    """
    check_mode(mode)
    mode = mode or stored_mode(index_dir) or DEFAULT_MODE
    path = memory_path(index_dir)
    if mode == "none":
        if stored_mode(index_dir) != "none":
            _save(path, GlobalMemory("none", [], np.zeros((0, 0), dtype=np.float32)))
        return MemoryReport("none", 0, 0)
    if mode == "gist" and make_llm is None:
        raise HippoError("--memory gist writes gists with an LLM: pass --llm (or use --memory extractive)")
    llm = make_llm() if mode == "gist" and make_llm is not None else None
    old = load_memory(index_dir)
    known = {p.id: (p, old.vectors[i]) for i, p in enumerate(old.pieces)} if old else {}
    documents = {d.id: d.sha256 for d in store.documents()}
    before = old.cut() if old else {}
    pieces = {d: before[d][1] for d, sha in documents.items() if d in before and before[d][0] == sha}
    pieces |= {d: [tuple(p.id for p in piece) for piece in cut]
               for d, cut in _cut(store, [d for d in documents if d not in pieces]).items()}
    order = sorted(documents)  # corpus order
    cut = [piece for d in order for piece in pieces.get(d, [])]
    ids = [_piece_id(mode, llm.name if llm else "", piece) for piece in cut]
    fresh = [i for i, pid in enumerate(ids) if pid not in known]
    for start in range(0, len(fresh), PIECE_BLOCK):  # a block at a time: passages, records and vectors
        block = fresh[start:start + PIECE_BLOCK]
        passages = {p.id: p for p in store.passages([pid for i in block for pid in cut[i]])}
        written = [[passages[pid] for pid in cut[i]] for i in block]
        texts = write_gists(llm, written) if llm is not None else extractive_texts(store, written)
        for i, text, vector in zip(block, texts, _piece_vectors(store, written), strict=True):
            known[ids[i]] = (MemoryPiece(ids[i], cut[i], text), vector)
    counts = [(d, documents[d], len(pieces.get(d, []))) for d in order]
    if old is None or [p.id for p in old.pieces] != ids or old.documents != counts:
        vectors = np.stack([known[pid][1] for pid in ids]) if ids else np.zeros((0, 0), dtype=np.float32)
        _save(path, GlobalMemory(mode, [known[pid][0] for pid in ids], vectors.astype(np.float32), counts))
    return MemoryReport(mode, len(ids), len(fresh))


def _piece_vectors(store: IndexStore, pieces: Sequence[Sequence[Passage]]) -> list[np.ndarray]:
    """Each piece's vector, the normalized mean of its passages' (read in one store call, not one
    a piece)."""
    vectors = store.passage_vectors([p for piece in pieces for p in piece])
    ends = np.cumsum([len(piece) for piece in pieces])
    means = [vectors[end - len(piece):end].mean(axis=0) for piece, end in zip(pieces, ends, strict=True)]
    return [mean / max(float(np.linalg.norm(mean)), 1e-12) for mean in means]


def cut_pieces(store: IndexStore, piece_words: int = PIECE_WORDS) -> list[list[Passage]]:
    """The corpus as pieces: each document's passages in order, grouped up to `piece_words`."""
    return [piece for _, pieces in sorted(_cut(store, None, piece_words).items()) for piece in pieces]


def _cut(
    store: IndexStore, doc_ids: Sequence[str] | None, piece_words: int = PIECE_WORDS,
) -> dict[str, list[list[Passage]]]:
    """The pieces of each document of `doc_ids` (None: all) that has passages (only theirs read)."""
    if doc_ids is not None and not doc_ids:
        return {}
    by_doc: dict[str, list[str]] = defaultdict(list)
    for doc_id, passage_id in store.document_passages(doc_ids):
        by_doc[doc_id].append(passage_id)
    passages = {p.id: p for p in store.passages(None if doc_ids is None else
                                                 [pid for found in by_doc.values() for pid in found])}
    cut: dict[str, list[list[Passage]]] = {}
    for doc_id, found in by_doc.items():
        pieces = cut.setdefault(doc_id, [])
        current: list[Passage] = []
        words = 0
        for pid in dict.fromkeys(found):
            passage = passages.get(pid)
            if passage is None:
                continue
            if current and words + len(passage.text.split()) > piece_words:
                pieces.append(current)
                current, words = [], 0
            current.append(passage)
            words += len(passage.text.split())
        if current:
            pieces.append(current)
    return cut


def extractive_texts(store: IndexStore, pieces: Sequence[Sequence[Passage]]) -> list[str]:
    """For each piece: its central entities, the facts joining them, its central sentences (the
    records of the pieces' passages only are read: an update writes a few pieces of many)."""
    passage_ids = [p.id for piece in pieces for p in piece]
    entities_of: dict[str, list[str]] = defaultdict(list)
    for pid, eid in store.passage_entities(passage_ids):
        entities_of[pid].append(eid)
    facts_of: dict[str, list[str]] = defaultdict(list)
    for pid, fid in store.passage_facts(passage_ids):
        facts_of[pid].append(fid)
    facts = store.facts(f for found in facts_of.values() for f in found)
    names = store.entities([*(e for found in entities_of.values() for e in found),
                            *(e for s, _, o in facts.values() for e in (s, o))])
    return [_extractive_text(piece, names, facts, entities_of, facts_of) for piece in pieces]


def _extractive_text(
    piece: Sequence[Passage], names: dict[str, str], facts: dict[str, tuple[str, str, str]],
    entities_of: dict[str, list[str]], facts_of: dict[str, list[str]],
) -> str:
    piece_facts = list(dict.fromkeys(f for p in piece for f in facts_of.get(p.id, ()) if f in facts))
    mentions = Counter(e for p in piece for e in set(entities_of.get(p.id, ())))
    in_facts = Counter(end for f in piece_facts for end in (facts[f][0], facts[f][2]))
    central = sorted((e for e in mentions if _is_name(names.get(e, ""))),
                     key=lambda e: (-mentions[e], -in_facts[e], names[e]))
    weight = {e: 1.0 / (rank + 1) for rank, e in enumerate(central)}
    ranked_facts = sorted(piece_facts, key=lambda f: (-(weight.get(facts[f][0], 0) + weight.get(facts[f][2], 0)), f))
    sentences = [" ".join(s.split()) for p in piece for s in split_sentences(p.text)]
    named = [(names[e], weight[e]) for e in central[:4 * CENTRAL_ENTITIES]]
    scores = [-sum(w for n, w in named if n in sentence) for sentence in map(str.casefold, sentences)]
    best = sorted(range(len(sentences)), key=lambda i: (scores[i], i))[:CENTRAL_SENTENCES]
    titles = list(dict.fromkeys(p.title for p in piece if p.title))
    parts = [f"Topics: {'; '.join(titles[:CENTRAL_ENTITIES])}"] if titles else []
    parts.append("Entities: " + "; ".join(names[e] for e in central[:CENTRAL_ENTITIES]))
    if ranked_facts:
        triples = (facts[f] for f in ranked_facts[:CENTRAL_FACTS])
        parts.append("Facts: " + "; ".join(f"{names[s]} {r} {names[o]}" for s, r, o in triples))
    parts.append(" ".join(sentences[i] for i in sorted(best)))
    return "\n".join(part for part in parts if part.strip())


def _is_name(name: str) -> bool:
    """A name has a letter: years and numbers are not central entities."""
    return any(c.isalpha() for c in name)


def _piece_id(mode: str, writer_name: str, passage_ids: Sequence[str]) -> str:
    digest = hashlib.sha1(f"{mode}\n{writer_name}".encode())
    for passage_id in passage_ids:
        digest.update(f"\n{passage_id}".encode())
    return digest.hexdigest()[:20]


def _save(path: Path, memory: GlobalMemory) -> None:
    """Writes `memory` beside `path`, fsyncs it and renames it over `path`."""
    record = {"mode": memory.mode, "documents": memory.documents,
              "pieces": [{"id": p.id, "passages": list(p.passage_ids), "text": p.text} for p in memory.pieces]}
    staging = path.with_name(f".{path.name}.tmp")
    with open(staging, "wb") as handle:
        np.savez(handle, record=np.array(json.dumps(record, ensure_ascii=False)), vectors=memory.vectors)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staging, path)
