"""Keeping an index's memory up to date: the hook `hippo index` runs after the graph.

Documents (corpus files) whose memory is missing or was built from other content get their
units made, embedded and associated (conversations always; other documents when the index's
`document_memory` setting is on); units of documents that are gone or changed are
dropped with their edges. A conversation file's sessions are read back from the file (the
store keeps passages, not dialog ids); the file must still hold what was indexed, else it
waits for the next run.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from hippo.config import IndexSettings
from hippo.conversations import Session, parse_conversations, session_passages
from hippo.corpus import BadFileError, content_hash, decode
from hippo.embed import Encoder
from hippo.extract.base import Extraction
from hippo.memory.associate import associate
from hippo.memory.llm_units import llm_keywords, llm_summaries
from hippo.memory.store import MemoryStore, SessionRow
from hippo.memory.units import UnitDraft, document_units, session_units
from hippo.store import DocumentRecord, IndexStore

DOCUMENT_SCOPE = ""  # documents associate across the whole index; a conversation within itself


@dataclass
class MemoryReport:
    """What one memory update did."""

    documents: int = 0
    units: int = 0
    edges: int = 0
    dropped: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def update_memory(
    index_dir: Path, store: IndexStore, settings: IndexSettings, llm_options: dict[str, Any] | None = None,
    warn: Callable[[str], None] | None = None,
) -> MemoryReport:
    """Brings `memory.sqlite` in line with the documents of `store` (see the module doc).
    `llm_options` are the indexer's `llm`, `llm_model` and `cache_path`: with `llm` set,
    summaries and keywords are the LLM's."""
    options = llm_options or {}
    started = time.perf_counter()
    report = MemoryReport()
    documents = {d.id: d for d in store.documents()}
    with MemoryStore(index_dir) as memory:
        known = memory.sources()
        for source, sha in known.items():
            if source not in documents or documents[source].sha256 != sha:
                memory.drop_source(source)
                report.dropped += 1
        pending = [documents[d] for d in sorted(documents) if known.get(d) != documents[d].sha256]
        if pending:
            builder = _Builder(store, settings, options.get("llm"), options.get("llm_model"),
                               options.get("cache_path"))
            for document in pending:
                try:
                    builder.add(memory, document, report)
                except BadFileError as err:
                    report.warnings.append(str(err))
                    if warn:
                        warn(str(err))
    report.seconds = time.perf_counter() - started
    return report


class _Builder:
    """Makes and stores the units of one document at a time, loading models once."""

    def __init__(self, store: IndexStore, settings: IndexSettings, llm: str | None, llm_model: str | None,
                 llm_cache: Path | None) -> None:
        self.store = store
        self.settings = settings
        self.llm_spec, self.llm_model, self.llm_cache = llm, llm_model, llm_cache
        self._encoder: Encoder | None = None
        self._llm: Any = None

    @cached_property
    def doc_passages(self) -> dict[str, list[str]]:
        """Each document's passage ids, read when a document first gets units (a run that adds
        corpus files to an index without document memory reads none)."""
        doc_passages: dict[str, list[str]] = defaultdict(list)
        for doc_id, passage_id in self.store.passage_documents():
            doc_passages[doc_id].append(passage_id)
        return doc_passages

    @cached_property
    def extractions(self) -> dict[str, Extraction]:
        """The OpenIE output of every passage, read when a unit first needs keywords."""
        return self.store.extractions(self.settings.extractor)

    def add(self, memory: MemoryStore, document: DocumentRecord, report: MemoryReport) -> None:
        sessions = self._sessions(document)
        if sessions is None and not self.settings.document_memory:
            # units for documents are opt-in (`--document-memory`): only `memgas` reads them; the
            # document is recorded without any, so the next run does not read it back again
            memory.add_source(document.id, document.sha256, [], [], _linker(memory))
            return
        if sessions is None:
            passages = self.store.passages(self.doc_passages.get(document.id, []))
            drafts = [(DOCUMENT_SCOPE, d) for d in document_units(
                document.title, passages, self.store.passage_vectors(passages),
                [self._keywords(p.id) for p in passages])]
            rows: list[SessionRow] = []
        else:
            drafts, rows = self._conversation_units(sessions)
        vectors = self._vectors([d for _, d in drafts])
        units = [(scope, draft, vector) for (scope, draft), vector in zip(drafts, vectors, strict=True)]
        report.edges += memory.add_source(document.id, document.sha256, units, rows, _linker(memory))
        report.units += len(units)
        report.documents += 1

    def _sessions(self, document: DocumentRecord) -> list[Session] | None:
        path = Path(document.id)
        if path.suffix.lower() not in (".json", ".jsonl"):
            return None
        try:
            data = path.read_bytes()
        except OSError:
            raise BadFileError(f"{path}: cannot read it back for its memory units; re-run `hippo index`") from None
        if content_hash(data) != document.sha256:
            raise BadFileError(f"{path}: changed while indexing; its memory units wait for the next `hippo index`")
        return parse_conversations(path, decode(path, data))

    def _conversation_units(self, sessions: Sequence[Session]) -> tuple[list[tuple[str, UnitDraft]], list[SessionRow]]:
        passages = [session_passages(s) for s in sessions]
        keywords = [[k for p in ps for k in self._keywords(p.id)] for ps in passages]
        summaries: Sequence[str | None] = [None] * len(sessions)
        if self.llm is not None:
            texts = ["\n".join(p.text for p in ps) for ps in passages]
            summaries = llm_summaries(self.llm, texts)
            from_llm = llm_keywords(self.llm, texts)
            keywords = [k if k else fallback for k, fallback in zip(from_llm, keywords, strict=True)]
        drafts: list[tuple[str, UnitDraft]] = []
        rows = []
        for session, turns, names, summary in zip(sessions, passages, keywords, summaries, strict=True):
            units = session_units(session, turns, self.store.passage_vectors(turns), names, summary)
            drafts += [(session.conversation, u) for u in units]
            turn_rows = tuple((t.dia_id, t.speaker, p.id) for t, p in zip(session.turns, turns, strict=True))
            rows.append(SessionRow(session.key, session.conversation, session.session_id, session.date, turn_rows))
        return drafts, rows

    def _keywords(self, passage_id: str) -> list[str]:
        extraction = self.extractions.get(passage_id, Extraction())
        names = list(extraction.entities)
        for triple in extraction.triples:
            names += [triple.subject, triple.object]
        return names

    def _vectors(self, drafts: Sequence[UnitDraft]) -> list[np.ndarray]:
        missing = list(dict.fromkeys(d.text for d in drafts if d.vector is None))
        encoded = dict(zip(missing, self.encoder.encode(missing), strict=True)) if missing else {}
        return [d.vector if d.vector is not None else encoded[d.text] for d in drafts]

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = Encoder(self.settings.embedding_model, self.settings.embed_batch_size,
                                    self.settings.encoder, bulk=True)
        return self._encoder

    @property
    def llm(self) -> Any:
        if self.llm_spec and self._llm is None:
            from hippo.llm import make_llm

            self._llm = make_llm(self.llm_spec, self.llm_model, cache_path=self.llm_cache)
        return self._llm


def _linker(memory: MemoryStore) -> Callable[[str, np.ndarray, np.ndarray], list[tuple[int, int, float]]]:
    """The association callback: each new unit against the earlier units of its scope."""

    def link(scope: str, seqs: np.ndarray, vectors: np.ndarray) -> list[tuple[int, int, float]]:
        all_seqs, all_vectors = memory.scope_units(scope)
        return [(int(seqs[i]), int(all_seqs[j]), w) for i, j, w in associate(vectors, all_vectors, causal=True)]

    return link
