"""The offline indexer: corpus files -> passages -> OpenIE -> embeddings -> graph snapshot.

Each stage commits as it goes, so an interrupted run keeps its work and the next run resumes:
unchanged files are skipped by size/mtime (then content hash), passages are extracted and
strings embedded once (keyed by content), and the graph is rebuilt only when records changed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hippo.config import IndexSettings
from hippo.corpus import (
    BadFileError,
    Passage,
    SourceFile,
    content_hash,
    discover,
    read_passages,
    record_passage,
)
from hippo.embed import Encoder, text_key
from hippo.errors import HippoError, UnknownDocumentError
from hippo.extract import Extraction, Extractor, get_extractor
from hippo.memory.build import update_memory
from hippo.memory.global_memory import update_global_memory
from hippo.progress import progress_bar
from hippo.progress import warn as progress_warn
from hippo.snapshot import save_snapshot, scratch_folder, snapshot_exists
from hippo.snapshot_build import SnapshotBuild
from hippo.store import DB_NAME, DocumentRecord, IndexStore

if TYPE_CHECKING:
    from hippo.ray_index import RayEncoder

Worker = TypeVar("Worker")

MEMORY_PREFIX = "memory:"  # id prefix of documents given in memory rather than as files
EXTRACT_BATCH = 128
EXTRACT_AHEAD = 2  # batches started before the oldest is collected
PARALLEL_MIN_PASSAGES = 1000  # below this, starting worker processes costs more than it saves
EMBED_CHUNK = 2048
SESSIONS_DIR = "sessions"  # the folder inside an index where `Hippo.add_session` saves sessions


@dataclass
class IndexReport:
    """What one indexing run did, with per-stage wall time in seconds."""

    files_seen: int = 0
    files_changed: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    files_skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    passages_extracted: int = 0
    extraction_failures: int = 0
    strings_embedded: int = 0
    graph_rebuilt: bool = False
    worker_peak_rss_mb: list[float] = field(default_factory=list)  # each OpenIE worker process's peak
    global_memory: str = ""  # what the global memory update did (hippo.memory.global_memory)
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for humans."""
        parts = [f"{_count(self.files_seen, 'file')} ({self.files_changed} new/changed, "
                 f"{self.files_unchanged} unchanged, {self.files_removed} removed)",
                 f"{self.passages_extracted} passages extracted",
                 f"{self.strings_embedded} strings embedded"]
        if self.files_skipped:
            parts.append(_count(self.files_skipped, "file") + " skipped")
        if self.extraction_failures:
            it = "it" if self.extraction_failures == 1 else "them"
            parts.append(f"{_count(self.extraction_failures, 'passage')} failed extraction (a re-run retries {it})")
        parts.append("graph rebuilt" if self.graph_rebuilt else "graph up to date")
        if self.global_memory:
            parts.append(self.global_memory)
        return "; ".join(parts)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


class Indexer:
    """Brings the index at `index_dir` up to date with corpus paths."""

    def __init__(
        self,
        index_dir: Path,
        settings: IndexSettings | None = None,
        *,
        quiet: bool = False,
        extractor_options: dict[str, Any] | None = None,
        warn: Callable[[str], None] | None = None,
        workers: int = 1,
        global_memory: str | None = None,
        ray: str | None = None,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.workers = workers
        self.ray = ray  # a Ray cluster address: OpenIE and embedding run there (see hippo.ray_index)
        self.global_memory = global_memory  # gist, extractive, none; None keeps the index's
        self.requested = settings
        self.quiet = quiet
        self.extractor_options = extractor_options or {}
        self.warn = warn or progress_warn

    def run(
        self, paths: Sequence[Path], documents: Sequence[Mapping[str, Any]] | None = None, *,
        replace_documents: bool = True, delete: Sequence[str] = (),
    ) -> IndexReport:
        """Indexes every supported file under `paths`; removes indexed files that are gone.

        `documents` ({"title", "text"} records, one passage each) replace the in-memory
        documents indexed before (with `replace_documents`) or join them; None leaves those
        alone. `delete` names documents to remove by id (UnknownDocumentError, before anything
        changes, for an id the index does not hold).
        """
        found = {Path(p): self._outside_index(discover(Path(p))) for p in paths}  # input errors first
        memory = None if documents is None else memory_passages(documents)
        if self.requested is not None and not (self.index_dir / DB_NAME).exists():
            # a model that does not load is refused before the index exists
            Encoder(self.requested.embedding_model, runtime=self.requested.encoder)
        if self.ray:
            from hippo.ray_index import connect

            connect(self.ray)  # an unreachable cluster is refused before anything is written
        report = IndexReport()
        with IndexStore.open(self.index_dir, settings=self.requested, create=True, write=True) as store:
            settings = store.settings
            started = time.perf_counter()
            _delete_documents(store, delete, report)
            for root, files in found.items():
                self._sync_files(store, root, files, settings, report)
            if memory is not None:
                _sync_memory(store, memory, report, replace_documents)
            report.seconds["read"] = time.perf_counter() - started
            self._extract(store, settings, report)
            if store.dirty or not snapshot_exists(self.index_dir):
                self._rebuild(store, settings, report)
            report.seconds["memory"] = update_memory(self.index_dir, store, settings, self.extractor_options,
                                                     self.warn).seconds
            started = time.perf_counter()
            report.global_memory = update_global_memory(self.index_dir, store, self.global_memory,
                                                        self.extractor_options)
            report.seconds["global_memory"] = time.perf_counter() - started
        return report

    # -- files ------------------------------------------------------------------------------

    def _outside_index(self, files: list[SourceFile]) -> list[SourceFile]:
        """Drops files inside the index directory (an index kept in the corpus folder), except
        the sessions `Hippo.add_session` saved there."""
        own, inbox = self.index_dir.resolve(), self.index_dir.resolve() / SESSIONS_DIR
        return [f for f in files if f.path.is_relative_to(inbox) or not f.path.is_relative_to(own)]

    def _sync_files(
        self, store: IndexStore, root: Path, files: list[SourceFile], settings: IndexSettings,
        report: IndexReport,
    ) -> None:
        present: set[str] = set()
        with progress_bar(len(files), f"reading {root}", "file", self.quiet) as bar:
            for source in files:
                doc_id = str(source.path)
                if self._sync_file(store, source, settings, report):
                    present.add(doc_id)
                bar.update(1)
        report.files_seen += len(present)
        for doc_id in store.document_ids_under(str(root.resolve())):
            if doc_id not in present:
                store.delete_document(doc_id)
                report.files_removed += 1

    def _sync_file(
        self, store: IndexStore, source: SourceFile, settings: IndexSettings, report: IndexReport
    ) -> bool:
        """Indexes one file if it changed; False if it vanished (so it counts as deleted)."""
        doc_id = str(source.path)
        known = store.document(doc_id)
        if known and (known.size, known.mtime_ns) == (source.size, source.mtime_ns):
            report.files_unchanged += 1
            return True
        try:
            data = source.path.read_bytes()
        except FileNotFoundError:
            self._skip(report, f"{source.path}: vanished while indexing; it is treated as deleted")
            return False
        except OSError as err:
            self._skip(report, f"{source.path}: cannot read ({err.strerror}); skipped")
            return True
        digest = content_hash(data)
        if known and known.sha256 == digest:
            store.touch_document(doc_id, source.size, source.mtime_ns)
            report.files_unchanged += 1
            return True
        kept = " (the indexed version is kept)" if known else ""
        try:
            title, passages = read_passages(
                source.path, data, settings.chunk_words, settings.chunk_overlap_sentences,
                warn=lambda message: self._note(report, message),
            )
        except BadFileError as err:
            self._skip(report, str(err) + kept)
            return True
        except (ValueError, RecursionError, MemoryError) as err:  # e.g. JSON nested too deep to parse
            self._skip(report, f"{source.path}: cannot be read ({_first_line(err)}); skipped{kept}")
            return True
        store.replace_document(
            DocumentRecord(doc_id, title, digest, source.size, source.mtime_ns), passages
        )
        report.files_changed += 1
        return True

    def _skip(self, report: IndexReport, message: str) -> None:
        report.files_skipped += 1
        self._note(report, message)

    def _note(self, report: IndexReport, message: str) -> None:
        report.warnings.append(message)
        self.warn(message)

    # -- OpenIE -------------------------------------------------------------------------------

    def _extract(self, store: IndexStore, settings: IndexSettings, report: IndexReport) -> None:
        started = time.perf_counter()
        pending = store.passages_without_extraction(settings.extractor)
        if pending:
            extractor = self._extractor(settings.extractor, len(pending))
            with progress_bar(len(pending), f"OpenIE ({settings.extractor})", "passage", self.quiet) as bar, \
                    _closing(extractor):
                for batch, results in _extract_ahead(extractor, _batches(pending, EXTRACT_BATCH)):
                    store.save_extractions(settings.extractor, [(p.id, r) for p, r in zip(batch, results, strict=True)])
                    failures = [(p, r.error) for p, r in zip(batch, results, strict=True) if r.error]
                    for passage, error in failures:
                        self._note(report, f"passage {passage.id} ({passage.title!r}): extraction failed: {error}")
                    report.extraction_failures += len(failures)
                    report.passages_extracted += len(batch) - len(failures)
                    bar.update(len(batch))
            report.worker_peak_rss_mb = list(getattr(extractor, "worker_peak_rss_mb", []))
            if report.passages_extracted:
                store.mark_dirty(True)
        report.seconds["extract"] = time.perf_counter() - started

    def _extractor(self, name: str, passages: int) -> Extractor:
        """The extractor for `passages` pending passages: on Ray when asked (not an LLM one, whose
        requests fan out over its endpoints), else in this machine's worker processes."""
        if self.ray and name != "llm":
            from hippo.ray_index import RayExtractor, connect

            return RayExtractor(name, connect(self.ray), **self.extractor_options)
        workers = self.workers if passages >= PARALLEL_MIN_PASSAGES else 1
        return get_extractor(name, workers=workers, **self.extractor_options)

    # -- embeddings and graph --------------------------------------------------------------------

    def _rebuild(self, store: IndexStore, settings: IndexSettings, report: IndexReport) -> None:
        """Builds the graph snapshot (`hippo.snapshot_build`: grown from the current one where the
        records only grew), embedding the strings it needs first."""
        started = time.perf_counter()
        build = SnapshotBuild.start(self.index_dir, store, settings)
        graph_seconds = time.perf_counter() - started

        started = time.perf_counter()
        self._embed_missing(store, settings, build.new_texts(), report)
        report.seconds["embed"] = time.perf_counter() - started

        started = time.perf_counter()
        snapshot, synonyms = build.snapshot(store, scratch_folder(self.index_dir))
        build.store_records(store, synonyms)
        save_snapshot(self.index_dir, snapshot)
        if not build.grown:  # a grown build drops no string: stale vectors wait for the next full one
            store.prune_embeddings(build.texts())
        store.mark_dirty(False)
        report.graph_rebuilt = True
        report.seconds["graph"] = graph_seconds + time.perf_counter() - started

    def _embed_missing(
        self, store: IndexStore, settings: IndexSettings, texts: Iterable[str], report: IndexReport
    ) -> None:
        """Embeds strings not yet cached, shortest first, committing each chunk."""
        keys = {text_key(t): t for t in texts}
        known = store.embedded_keys(keys)
        # by length, then text: the same batches on every run (the int8 encoder's scales depend on them)
        missing = sorted({t for key, t in keys.items() if key not in known}, key=lambda t: (len(t), t))
        if not missing:
            return
        encoder = self._encoder(settings)
        chunks = list(_batches(missing, EMBED_CHUNK))
        with progress_bar(len(missing), "embedding", "text", self.quiet) as bar, _closing(encoder):
            for chunk, vectors in zip(chunks, encoder.encode_each(chunks), strict=True):
                store.save_embeddings([text_key(t) for t in chunk], vectors)
                report.strings_embedded += len(chunk)
                bar.update(len(chunk))

    def _encoder(self, settings: IndexSettings) -> Encoder | RayEncoder:
        """The index's encoder, in this process or as Ray actors when `--ray` is given."""
        if self.ray:
            from hippo.ray_index import RayEncoder, connect

            return RayEncoder(settings.embedding_model, settings.embed_batch_size, settings.encoder, connect(self.ray))
        return Encoder(settings.embedding_model, settings.embed_batch_size, settings.encoder, bulk=True)


def memory_passages(documents: Sequence[Mapping[str, Any]]) -> list[Passage]:
    """The passage of each in-memory document; HippoError naming the first without text."""
    passages = []
    for i, document in enumerate(documents):
        passage = record_passage(document) if isinstance(document, Mapping) else None
        if passage is None or not passage.text:
            raise HippoError(f'document {i} has no string "text" field; give each document '
                             '{"title": ..., "text": ...} with non-empty text')
        passages.append(passage)
    return passages


def memory_document_ids(documents: Sequence[Mapping[str, Any]]) -> list[str]:
    """The document id each in-memory document is indexed under (a content id, `memory:<hash>`)."""
    return [MEMORY_PREFIX + p.id for p in memory_passages(documents)]


def _delete_documents(store: IndexStore, doc_ids: Sequence[str], report: IndexReport) -> None:
    """Removes documents by id, all or (an unknown id) none."""
    for doc_id in doc_ids:
        if store.document(doc_id) is None:
            raise UnknownDocumentError(f"no document {doc_id!r} in the index; ids are those indexing returned "
                                       "(memory:<hash> for an in-memory document, a file's absolute path)")
    for doc_id in dict.fromkeys(doc_ids):
        store.delete_document(doc_id)
        report.files_removed += 1


def _sync_memory(store: IndexStore, passages: list[Passage], report: IndexReport, replace: bool) -> None:
    """Stores in-memory documents under content ids (so the same ones again change nothing)
    and, with `replace`, removes those of an earlier list that are not in this one."""
    present = {MEMORY_PREFIX + p.id: p for p in passages}
    for doc_id, passage in present.items():
        if store.document(doc_id) is not None:
            report.files_unchanged += 1
            continue
        size = len(passage.text.encode())
        store.replace_document(DocumentRecord(doc_id, passage.title, passage.id, size, 0), [passage])
        report.files_changed += 1
    report.files_seen += len(present)
    for document in store.documents() if replace else ():
        if document.id.startswith(MEMORY_PREFIX) and document.id not in present:
            store.delete_document(document.id)
            report.files_removed += 1


def _extract_ahead(
    extractor: Extractor, batches: Iterable[Sequence[Passage]]
) -> Iterator[tuple[Sequence[Passage], list[Extraction]]]:
    """Each batch with its extractions, in order. An extractor with a `submit` method (spaCy in
    worker processes) has the next EXTRACT_AHEAD batches started before a batch is collected,
    so its workers keep going while this process saves; a batch that fails is redone passage
    by passage (`_extract_each`)."""
    submit = getattr(extractor, "submit", None)
    if submit is None:
        yield from ((batch, _extract_each(extractor, batch)) for batch in batches)
        return
    started: deque[tuple[Sequence[Passage], Callable[[], list[Extraction]] | None]] = deque()
    for batch in batches:
        started.append((batch, _submitted(submit, batch)))
        if len(started) > EXTRACT_AHEAD:
            yield _collected(extractor, *started.popleft())
    while started:
        yield _collected(extractor, *started.popleft())


def _submitted(
    submit: Callable[[Sequence[Passage]], Callable[[], list[Extraction]]], batch: Sequence[Passage]
) -> Callable[[], list[Extraction]] | None:
    """What collects the batch's extractions; None when submitting it failed (not a setup error)."""
    try:
        return submit(batch)
    except HippoError:
        raise
    except Exception:
        return None


def _collected(
    extractor: Extractor, batch: Sequence[Passage], collect: Callable[[], list[Extraction]] | None
) -> tuple[Sequence[Passage], list[Extraction]]:
    """The batch's extractions from `collect`; when that fails, or the batch never started,
    from `_extract_each`, which finds the passage that broke it."""
    try:
        results = collect() if collect is not None else None
    except HippoError:
        raise
    except Exception:
        results = None
    return batch, results if results is not None else _extract_each(extractor, batch)


def _extract_each(extractor: Extractor, batch: Sequence[Passage]) -> list[Extraction]:
    """The batch's extractions; when the batch raises, each passage on its own, so a passage
    that breaks the extractor fails alone (HippoError, a setup problem, stops the run)."""
    try:
        return extractor.extract(batch)
    except HippoError:
        raise
    except Exception as err:
        if len(batch) == 1:
            return [Extraction(error=f"{type(err).__name__}: {_first_line(err)}")]
    return [result for passage in batch for result in _extract_each(extractor, [passage])]


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:300] if lines else type(err).__name__


@contextmanager
def _closing(worker: Worker) -> Iterator[Worker]:
    """Yields the extractor or encoder, then calls its `close()` if it has one (worker
    processes, Ray actors)."""
    try:
        yield worker
    finally:
        close = getattr(worker, "close", None)
        if close is not None:
            close()


def _batches(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
