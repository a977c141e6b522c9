"""The embedded OpenIE default: spaCy named entities plus dependency-parse triples.

For each verb, its subjects and objects (direct, attribute, passive agent, prepositional)
become triples `(subject, verb[+preposition], object)`. Arguments are named entities or
proper-noun phrases; a pronoun or generic "the film"-style subject stands for the passage
title, which is how encyclopedic passages refer back to their topic.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from threadpoolctl import threadpool_limits

from hippo.corpus import Passage
from hippo.extract.base import Extraction, Triple, normalize_entity, normalize_relation
from hippo.models import load_spacy

_WORD = re.compile(r"\w+")
_SUBJECT_DEPS = {"nsubj", "nsubjpass"}
_OBJECT_DEPS = {"dobj", "attr", "oprd", "dative", "acomp"}
_TITLE_PRONOUNS = {"he", "she", "it", "they", "his", "her", "its", "their", "him", "them"}
_SKIPPED_ENTITY_LABELS = {"CARDINAL", "ORDINAL", "PERCENT", "QUANTITY", "MONEY"}
CHUNK_PASSAGES = 16  # passages a worker takes at a time: small enough that workers finish together
# Relations need the lemmas of a few tokens (verbs and their nouns): made for those alone, as the
# pipeline's lemmatizer would make them, instead of for every token (7% of the pipeline's time).
LAZY_PIPE = "lemmatizer"
MAX_PIECE_CHARS = 100_000  # spaCy needs about 1 GB per 100,000 characters; its own limit is 1,000,000


class SpacyExtractor:
    """Named entities and dependency triples with `en_core_web_sm` (no LLM needed).

    With `workers > 1`, each batch is split across that many worker processes (started with
    "spawn" on first use, so they are safe whatever the parent has loaded; each loads spaCy
    once, which takes seconds); `close()` stops them.
    """

    name = "spacy"

    def __init__(self, batch_size: int = 64, workers: int = 1) -> None:
        self._batch_size = batch_size
        self._workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None
        self.worker_peak_rss_mb: list[float] = []  # per worker, read when `close()` stops them
        if self._workers == 1:
            load_spacy()

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        """One Extraction per passage; the title (if any) is always one of its entities."""
        return self.submit(passages)()

    def submit(self, passages: Sequence[Passage]) -> Callable[[], list[Extraction]]:
        """Starts extracting `passages` and returns what waits for their extractions. With worker
        processes the passages go out in chunks of CHUNK_PASSAGES that idle workers take in turn,
        so a caller that submits the next batch before collecting this one keeps every worker
        busy (measured on 2Wiki passages, 2 workers: 1.42x the passages a second of one batch
        split in halves and awaited at a time)."""
        items = [(p.text, p.title) for p in passages]
        if self._workers == 1 or len(items) < 2 * self._workers:
            done = extract_texts(items, self._batch_size)
            return lambda: done
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self._workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker, initargs=(os.getpid(),),
            )
        size = min(CHUNK_PASSAGES, -(-len(items) // self._workers))
        futures = [self._pool.submit(extract_texts, items[start:start + size], self._batch_size)
                   for start in range(0, len(items), size)]
        return lambda: [extraction for future in futures for extraction in future.result()]

    def close(self) -> None:
        """Stops the worker processes, if any were started, noting their peak memory first;
        chunks not yet started are dropped."""
        if self._pool is not None:
            self.worker_peak_rss_mb = [_peak_rss_mb(pid) for pid in self._pool._processes]
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _peak_rss_mb(pid: int) -> float:
    """A process's peak resident memory since its last exec (Linux `VmHWM`; 0 where unknown).
    Unlike `getrusage(RUSAGE_CHILDREN)`, it does not count the parent's pages a spawned
    worker briefly shares between fork and exec."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return 0.0


def _start_worker(parent: int) -> None:
    """Worker initializer: keeps torch out of the worker (spaCy's thinc imports it when it is
    installed, ~490 MB per worker, though `en_core_web_sm` never uses it: a None entry in
    `sys.modules` makes that import fail as if torch were absent), and starts a watcher thread
    that ends this worker once its parent is gone (a `kill -9` of the indexer would otherwise
    leave idle workers holding the model); and runs numpy's BLAS (spaCy's matrix products, see
    `load_spacy`) on one thread."""
    sys.modules.setdefault("torch", None)  # type: ignore[assignment]
    import numpy  # noqa: F401  # loaded now (a worker of `python -m hippo` has not yet), so the limit reaches it
    threadpool_limits(1, user_api="blas")  # one thread a worker: the workers already fill the cores

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def extract_texts(items: Sequence[tuple[str, str]], batch_size: int = 64) -> list[Extraction]:
    """Extractions of (text, title) pairs with this process's spaCy pipeline; a text longer
    than spaCy may take is parsed in pieces, and their extractions merged."""
    nlp = load_spacy()
    limit = min(MAX_PIECE_CHARS, nlp.max_length)
    pieces = [(i, piece) for i, (text, _) in enumerate(items) for piece in text_pieces(text, limit)]
    parts: list[list[Extraction]] = [[] for _ in items]
    docs = nlp.pipe((piece for _, piece in pieces), batch_size=batch_size, disable=[LAZY_PIPE])
    for (i, _), doc in zip(pieces, docs, strict=True):
        parts[i].append(_extract_doc(doc, items[i][1]))
    return [_merge(extractions) for extractions in parts]


def text_pieces(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at whitespace where there is some."""
    pieces, start = [], 0
    while len(text) - start > limit:
        end = start + limit
        cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
        cut = cut if cut > start else end
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return pieces


def _merge(extractions: list[Extraction]) -> Extraction:
    if len(extractions) == 1:
        return extractions[0]
    return Extraction(
        entities=tuple(dict.fromkeys(e for x in extractions for e in x.entities)),
        triples=tuple(dict.fromkeys(t for x in extractions for t in x.triples)),
    )


def _extract_doc(doc: Any, title: str) -> Extraction:
    title_entity = normalize_entity(title) if title else ""
    entities: dict[str, None] = {}
    if title_entity:
        entities[title_entity] = None
    entity_by_token: dict[int, str] = {}
    for ent in doc.ents:
        if ent.label_ in _SKIPPED_ENTITY_LABELS:
            continue
        name = _resolve(normalize_entity(ent.text), title_entity)
        if name:
            entities[name] = None
            for token in ent:
                entity_by_token[token.i] = name
    triples: dict[Triple, None] = {}
    for sentence in doc.sents:
        for verb in (t for t in sentence if t.pos_ in ("VERB", "AUX")):
            for triple in _verb_triples(verb, entity_by_token, title_entity):
                triples[triple] = None
                entities.setdefault(triple.subject, None)
                entities.setdefault(triple.object, None)
    return Extraction(entities=tuple(entities), triples=tuple(triples))


def _verb_triples(verb: Any, entity_by_token: dict[int, str], title: str) -> Iterator[Triple]:
    subjects = [_argument(c, entity_by_token, title, subject=True) for c in verb.children
                if c.dep_ in _SUBJECT_DEPS]
    if not subjects and verb.dep_ in ("conj", "xcomp", "advcl") and verb.head.pos_ in ("VERB", "AUX"):
        subjects = [_argument(c, entity_by_token, title, subject=True) for c in verb.head.children
                    if c.dep_ in _SUBJECT_DEPS]
    if verb.dep_ in ("acl", "relcl") and verb.head.pos_ in ("PROPN", "NOUN"):
        subjects.append(_modified_noun(verb.head, entity_by_token, title))
    subjects = [s for s in subjects if s]
    if not subjects:
        return
    lemma = _lemma(verb)
    for relation, obj in _objects(verb, lemma):
        name = _argument(obj, entity_by_token, title, subject=False)
        if not name:
            continue
        for subject in subjects:
            if subject != name:
                yield Triple(subject, normalize_relation(relation), name)


def _modified_noun(noun: Any, entity_by_token: dict[int, str], title: str) -> str:
    """What a participle clause describes: "X is a film directed by Y" describes X, so a
    common noun that is the attribute (or apposition) of a subject stands for that subject."""
    name = _argument(noun, entity_by_token, title, subject=True)
    if name or noun.pos_ != "NOUN":
        return name
    if noun.dep_ == "attr":
        for subject in (c for c in noun.head.children if c.dep_ in _SUBJECT_DEPS):
            return _argument(subject, entity_by_token, title, subject=True)
    if noun.dep_ == "appos":
        return _argument(noun.head, entity_by_token, title, subject=True)
    return ""


def _objects(verb: Any, lemma: str) -> Iterator[tuple[str, Any]]:
    for child in verb.children:
        if child.dep_ in _OBJECT_DEPS:
            yield lemma, child
            head = f"{lemma} {_lemma(child)}" if child.pos_ in ("NOUN", "ADJ") else lemma
            yield from ((f"{head} {p.text.lower()}", o) for p, o in _prepositional(child))
        elif child.dep_ == "agent":
            yield from ((f"{lemma} by", o) for o in child.children if o.dep_ == "pobj")
        elif child.dep_ == "prep":
            for obj in (o for o in child.children if o.dep_ == "pobj"):
                yield f"{lemma} {child.text.lower()}", obj
                if obj.pos_ == "NOUN":
                    nested = f"{lemma} {child.text.lower()} {_lemma(obj)}"
                    yield from ((f"{nested} {p.text.lower()}", o) for p, o in _prepositional(obj))
        for conj in (c for c in child.children if c.dep_ == "conj") if child.dep_ in _OBJECT_DEPS else ():
            yield lemma, conj


def _lemma(token: Any) -> str:
    """The token's lowercased lemma; made now where the pipeline skipped LAZY_PIPE."""
    return (token.lemma_ or load_spacy().get_pipe(LAZY_PIPE).lemmatize(token)[0]).lower()


def _prepositional(noun: Any) -> Iterator[tuple[Any, Any]]:
    for prep in (c for c in noun.children if c.dep_ == "prep"):
        for obj in prep.children:
            if obj.dep_ == "pobj":
                yield prep, obj


def _argument(token: Any, entity_by_token: dict[int, str], title: str, *, subject: bool) -> str:
    """The entity name a subject/object token stands for, or "" when it names nothing."""
    if token.i in entity_by_token:
        return entity_by_token[token.i]
    return _resolve(_argument_name(token, title, subject=subject), title)


def _argument_name(token: Any, title: str, *, subject: bool) -> str:
    if token.pos_ == "PRON":
        return title if subject and token.lower_ in _TITLE_PRONOUNS else ""
    if token.pos_ == "PROPN":
        span = token.doc[token.left_edge.i:token.i + 1]
        words = [t.text for t in span if t.pos_ in ("PROPN", "NUM", "ADJ") or t.dep_ == "compound"]
        return normalize_entity(" ".join(words) or token.text)
    if token.pos_ == "NOUN" and subject and title and _is_generic_reference(token):
        return title
    if token.pos_ == "NUM" and token.ent_type_ in ("DATE",):
        return normalize_entity(token.text)
    return ""


def _resolve(name: str, title: str) -> str:
    """A partial mention of the passage title ("Brennan" in "Ada Brennan") means the title."""
    if title and name and name != title and set(_WORD.findall(name)) <= set(_WORD.findall(title)):
        return title
    return name


def _is_generic_reference(token: Any) -> bool:
    """"The film", "the company": a definite common noun, typically naming the page topic."""
    return any(c.dep_ == "det" and c.lower_ in ("the", "this") for c in token.children) and not any(
        c.dep_ in ("amod", "compound", "poss", "prep") for c in token.children
    )
