"""The Python pipeline API: index a corpus, retrieve passages, ask for cited answers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hippo.config import ENCODERS, IndexSettings, default_index_dir
from hippo.conversations import session_records
from hippo.errors import HippoError, UnknownDocumentError
from hippo.indexer import SESSIONS_DIR, Indexer, IndexReport
from hippo.llm.cache import default_cache_path
from hippo.llm.factory import check_llm_spec
from hippo.memory.global_memory import check_mode
from hippo.memory.sessions import SessionPassage
from hippo.pipeline import DEFAULT_PIPELINE, DEFAULT_TOP_K, Pipeline, load_pipeline
from hippo.stages import RetrievalContext, RetrievalState
from hippo.store import DB_NAME

if TYPE_CHECKING:
    import networkx as nx

    from hippo.serve.client import RemoteHippo


@dataclass(frozen=True)
class RetrievedPassage:
    """A ranked passage."""

    id: str
    title: str
    text: str
    score: float


@dataclass(frozen=True)
class RetrievedSession(RetrievedPassage):
    """A ranked session, the unit a conversation index returns: `id` and `session` are its key
    (`<conversation>/session_<n>`), `text` its turns, `turns` their dialog ids (those the
    ranking scored first, best first)."""

    session: str = ""
    date: str = ""
    turns: tuple[str, ...] = ()


@dataclass
class Retrieval:
    """The ranked passages for a question and what each stage did."""

    question: str
    passages: list[RetrievedPassage]
    trace: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a retrieval (`POST /retrieve` answers it)."""
        return {"question": self.question, "passages": [vars(p) for p in self.passages], "trace": self.trace}

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Retrieval:
        """The retrieval `to_dict` gave (passages with a "session" are RetrievedSession)."""
        return cls(payload["question"], [_passage(p) for p in payload["passages"]], payload.get("trace", []))


@dataclass
class Answer(Retrieval):
    """A retrieval plus the reader's answer; `note` says why `answer` is None."""

    answer: str | None = None
    citations: list[int] = field(default_factory=list)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape printed by `hippo ask --json` (and answered by `POST /ask`)."""
        retrieval = super().to_dict()
        return {"question": retrieval.pop("question"), "answer": self.answer, "citations": self.citations,
                "note": self.note, **retrieval}

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Answer:
        """The answer `to_dict` gave."""
        retrieval = Retrieval.from_dict(payload)
        return cls(retrieval.question, retrieval.passages, retrieval.trace, answer=payload.get("answer"),
                   citations=list(payload.get("citations", [])), note=payload.get("note"))


def _passage(payload: Mapping[str, Any]) -> RetrievedPassage:
    if "session" in payload:
        return RetrievedSession(**{**payload, "turns": tuple(payload.get("turns", ()))})
    return RetrievedPassage(**payload)


Document = Mapping[str, str]
READ_TOP_K = 5


class Hippo:
    """One index directory and the models to search it; models load once, on first use.

    `workers` > 1 lets `index` run spaCy OpenIE in that many spawned processes on large runs
    (a script doing so needs the usual `if __name__ == "__main__":` guard); `ray` (a Ray
    cluster address, "auto" or "local"; the `ray` extra) runs OpenIE and embedding there instead.
    `encoder` ("onnx" or "torch") is the embedding runtime of a new index and of queries; None:
    the index's own (onnx for a new index). An existing index keeps embedding new documents with its own.

    >>> h = Hippo(".hippo")                                # doctest: +SKIP
    >>> h.index(["data/sample"])                           # doctest: +SKIP
    >>> h.retrieve("Where was the director of The Silent Tide born?").passages[0].title  # doctest: +SKIP
    """

    def __init__(
        self, index_dir: str | Path | None = None, *, llm: str | None = None, llm_model: str | None = None,
        settings: IndexSettings | None = None, quiet: bool = True, workers: int = 1, encoder: str | None = None,
        ray: str | None = None,
    ) -> None:
        self.index_dir = Path(index_dir) if index_dir is not None else default_index_dir()
        check_llm_spec(llm)  # a bad --llm is an error now, not a warning per question later
        if encoder is not None and encoder not in ENCODERS:
            raise HippoError(f"--encoder {encoder!r} is unknown; choose one of: {', '.join(ENCODERS)}")
        self.llm = llm
        self.llm_model = llm_model
        self.encoder = encoder
        self.settings = settings
        self.quiet = quiet
        self.workers = workers
        self.ray = ray
        self._context: RetrievalContext | None = None
        self._reload = False
        self._pipelines: dict[str, Pipeline] = {}

    @staticmethod
    def remote(url: str, api_key: str | None = None) -> RemoteHippo:
        """A client of the `hippo serve` server at `url` with `retrieve`, `ask` and `index`
        (needs the `serve` extra; see `hippo.serve.client.RemoteHippo`)."""
        from hippo.serve.client import RemoteHippo

        return RemoteHippo(url, api_key)

    def index(
        self, sources: Iterable[str | Path | Document], global_memory: str | None = None, *, replace: bool = True
    ) -> IndexReport:
        """Indexes files and folders, and in-memory documents given as {"title", "text"} dicts
        (one passage each, like JSONL records). The documents of one call replace those of the
        previous call that gave any (with `replace=False` they join them): the same ones again
        change nothing. Each is indexed under the id `hippo.indexer.memory_document_ids` gives.
        Warnings go to stderr and into the report; LLM OpenIE responses are cached in the index.

        `global_memory` ("extractive", "gist" with the LLM, "none") sets the index's MemoRAG
        memory for the `clues` stage; None keeps the index's ("extractive" for a new one)."""
        check_mode(global_memory)
        paths: list[Path] = []
        documents: list[Document] = []
        for source in sources:
            if isinstance(source, Mapping):
                documents.append(source)
            else:
                paths.append(Path(source))
        return self._indexed(self._indexer(global_memory).run(paths, documents or None, replace_documents=replace))

    def delete(self, document_ids: Iterable[str]) -> IndexReport:
        """Removes documents by id (`memory:<hash>` for an in-memory one, a file's absolute
        path) and updates the graph; an unknown id is an UnknownDocumentError and nothing
        changes. A session `add_session` saved is removed with its file."""
        ids = list(document_ids)
        if ids and not (self.index_dir / DB_NAME).exists():  # nothing to delete: create no index for it
            raise UnknownDocumentError(f"no document {ids[0]!r}: {self.index_dir} holds no index yet")
        report = self._indexed(self._indexer().run([], delete=ids))
        sessions = (self.index_dir / SESSIONS_DIR).resolve()
        for doc_id in ids:
            if Path(doc_id).parent == sessions:
                Path(doc_id).unlink(missing_ok=True)
        return report

    def _indexed(self, report: IndexReport) -> IndexReport:
        self._reload = True  # the memory units may have changed without a new graph snapshot
        return report

    def _indexer(self, global_memory: str | None = None) -> Indexer:
        options = {"llm": self.llm, "llm_model": self.llm_model, "cache_path": default_cache_path(self.index_dir)}
        settings = self.settings
        if self.encoder is not None and not (self.index_dir / DB_NAME).exists():
            settings = replace(settings or IndexSettings(), encoder=self.encoder)
        return Indexer(self.index_dir, settings, quiet=self.quiet, extractor_options=options,
                       workers=self.workers, global_memory=global_memory, ray=self.ray)

    def add_session(
        self, conversation: str, session_id: str | int, turns: Sequence[Any], date: str = ""
    ) -> IndexReport:
        """Adds one session of a conversation and indexes it: `turns` are {"speaker", "text"}
        dicts (optionally with a dialog "id") or (speaker, text) pairs. The session is saved as
        a conversation JSONL file inside the index; its memory units are associated with the
        conversation's earlier ones, and nothing indexed before is redone."""
        path, body = self._session_file(conversation, session_id, turns, date)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
        return self.index([path])

    def session_document_id(
        self, conversation: str, session_id: str | int, turns: Sequence[Any], date: str = ""
    ) -> str:
        """The document id `add_session` indexes this session under (for `delete`)."""
        return str(self._session_file(conversation, session_id, turns, date)[0])

    def _session_file(
        self, conversation: str, session_id: str | int, turns: Sequence[Any], date: str
    ) -> tuple[Path, str]:
        """Where a session is saved inside the index (named by its content) and its JSONL."""
        try:
            records = session_records(conversation, session_id, turns, date)
        except ValueError as err:
            raise HippoError(f"add_session({conversation!r}, {session_id!r}): {err}") from None
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        name = f"{hashlib.sha1(body.encode()).hexdigest()[:16]}.jsonl"
        return (self.index_dir / SESSIONS_DIR).resolve() / name, body

    def retrieve(self, question: str, pipeline: str = DEFAULT_PIPELINE, top_k: int = DEFAULT_TOP_K) -> Retrieval:
        """The `top_k` passages for `question` (no reader)."""
        return self.retrieve_many([question], pipeline, top_k)[0]

    def retrieve_many(
        self, questions: Sequence[str], pipeline: str = DEFAULT_PIPELINE, top_k: int = DEFAULT_TOP_K
    ) -> list[Retrieval]:
        """Retrieval for many questions at once (batched PPR)."""
        ctx = self.context  # one snapshot for the whole call
        states = self._pipeline(pipeline).run_batch(list(questions), ctx, retrieve_only=True, top_k=top_k)
        return [Retrieval(s.question, _passages(ctx, s), s.trace) for s in states]

    def ask(self, question: str, pipeline: str = DEFAULT_PIPELINE, top_k: int = READ_TOP_K) -> Answer:
        """Retrieves `top_k` passages and has the reader answer from exactly those, citing them
        by their number in `passages`; without an LLM the answer is None and `note` says why."""
        return self.ask_many([question], pipeline, top_k)[0]

    def ask_many(
        self, questions: Sequence[str], pipeline: str = DEFAULT_PIPELINE, top_k: int = READ_TOP_K
    ) -> list[Answer]:
        """Answers for many questions, models loaded once."""
        ctx = self.context
        states = self._pipeline(pipeline).run_batch(list(questions), ctx, top_k=top_k)
        return [Answer(s.question, _passages(ctx, s), s.trace, answer=s.answer, citations=s.citations, note=s.note)
                for s in states]

    def to_networkx(self) -> nx.Graph:
        """The retrieval graph as a networkx Graph: passage and entity nodes (attributes kind,
        name, title), fact/mention/synonym edges (kind, weight, relation); see `hippo.export`."""
        from hippo.export import index_to_networkx

        return index_to_networkx(self.index_dir)

    def refresh(self) -> bool:
        """Has the next query load the index's newest snapshot if another process wrote one
        since this Hippo loaded its own (the models stay loaded); True if it will. Without it
        a Hippo answers from the snapshot it loaded until its own `index` or `delete`."""
        if self._context is not None and self._context.stale():
            self._reload = True
        return self._reload

    @property
    def context(self) -> RetrievalContext:
        """The loaded index, reloaded (models kept) after `index`, `delete` or `refresh`."""
        if self._context is None or self._reload:
            self._reload = False
            self._context = RetrievalContext(self.index_dir, self.llm, self.llm_model, models_from=self._context,
                                             encoder=self.encoder)
        return self._context

    def _pipeline(self, name: str) -> Pipeline:
        if name not in self._pipelines:
            self._pipelines[name] = load_pipeline(name)
        return self._pipelines[name]


def _passages(ctx: RetrievalContext, state: RetrievalState) -> list[RetrievedPassage]:
    return [RetrievedSession(p.id, p.title, p.text, score, p.session, p.date, p.turns)
            if isinstance(p, SessionPassage) else RetrievedPassage(p.id, p.title, p.text, score)
            for p, score in ctx.ranked_passages(state)]
