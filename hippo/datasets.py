"""Question files and their gold passages, in every HippoRAG-style format hippo evaluates on.

A question file is a JSON list or JSON Lines of records with `question`, `answer` (plus
optional `answer_aliases`) and gold evidence in one of these fields, tried in this order:

* `paragraphs[*].is_supporting` with `title` and `paragraph_text`/`text` (MuSiQue, HippoRAG,
  hippo's derived 2Wiki gold);
* `supporting_facts` `[[title, sentence_index], ...]`, texts from `context` when present
  (HotpotQA, 2WikiMultihopQA);
* `supporting_titles` `[title, ...]` (hippo's `data/sample_questions.jsonl`).

Gold passages are matched to corpus passages by title. A title can occur twice in a corpus
(MuSiQue has several paragraphs titled after one article): when the gold text is known the
passage with that title *and* that text (whitespace ignored) is the gold one; when only the
title is known, or no passage has that text, every passage with the title satisfies the gold
item, which still counts once. A gold title absent from the corpus stays in the question's
gold as an item nothing can satisfy and is reported.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hippo.config import IndexSettings
from hippo.corpus import BadFileError, Passage, discover, read_passages
from hippo.errors import HippoError

GOLD_FIELDS = "`paragraphs[*].is_supporting`, `supporting_facts` or `supporting_titles`"


@dataclass(frozen=True)
class GoldPassage:
    """A supporting passage as the question file names it: a title, and its text if given."""

    title: str
    text: str | None = None


@dataclass(frozen=True)
class Question:
    """One evaluation question with its accepted answers and gold passages."""

    id: str
    question: str
    answers: tuple[str, ...]
    gold: tuple[GoldPassage, ...]


class CorpusGold:
    """Maps gold passages to the ids of corpus passages that satisfy them."""

    def __init__(self, passages: list[Passage]) -> None:
        self.passages = passages
        self._by_title: dict[str, list[Passage]] = defaultdict(list)
        for passage in passages:
            self._by_title[passage.title].append(passage)

    def resolve(self, gold: GoldPassage) -> frozenset[str]:
        """Ids of the corpus passages that count as `gold`; empty when its title is absent."""
        candidates = self._by_title.get(gold.title.strip(), [])
        if gold.text is not None:
            wanted = _squash(gold.text)
            exact = [p for p in candidates if _squash(p.text) == wanted]
            if exact:
                candidates = exact
        return frozenset(p.id for p in candidates)


def load_corpus(path: Path, settings: IndexSettings | None = None) -> CorpusGold:
    """The passages of a corpus file or folder, cut as the indexer cuts them with `settings`
    (HippoRAG `{"title", "text"}` records are one passage each). Unreadable files are errors."""
    settings = settings or IndexSettings()
    passages: list[Passage] = []
    for source in discover(path):
        try:
            _, found = read_passages(
                source.path, _read(source.path), settings.chunk_words, settings.chunk_overlap_sentences
            )
        except BadFileError as err:
            raise HippoError(str(err).removesuffix("; skipped")) from None
        passages.extend(found)
    if not passages:
        raise HippoError(f"{path}: no corpus files (.txt .md .json .jsonl) found")
    return CorpusGold(passages)


def load_questions(path: Path) -> list[Question]:
    """The questions of a question file (JSON list or JSON Lines), validated record by record."""
    text = _read(path).decode("utf-8-sig", errors="replace")
    questions = [_question(path, i, record) for i, record in enumerate(_records(path, text))]
    if not questions:
        raise HippoError(f"{path}: holds no questions")
    return questions


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise HippoError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise HippoError(f"{path}: is a folder; pass a JSON or JSON Lines file") from None


def _records(path: Path, text: str) -> list[Any]:
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as whole_error:
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError:
            raise HippoError(
                f"{path}: invalid JSON at line {whole_error.lineno} (neither a JSON list nor JSON Lines)"
            ) from None
    if isinstance(loaded, dict):
        return [loaded]
    if not isinstance(loaded, list):
        raise HippoError(f"{path}: expected a list of question records, got a JSON {type(loaded).__name__}")
    return loaded


def _question(path: Path, index: int, record: Any) -> Question:
    where = f"{path}: record {index}"
    if not isinstance(record, dict):
        raise HippoError(f"{where} is not a JSON object; expected question records")
    question, answer = record.get("question"), record.get("answer")
    for name, value in (("question", question), ("answer", answer)):
        if not isinstance(value, str):
            raise HippoError(f"{where} has no string `{name}` field; expected a HippoRAG-format question file")
    aliases = [a for a in record.get("answer_aliases") or [] if isinstance(a, str)]
    qid = record.get("id", record.get("_id", index))
    return Question(str(qid), question, tuple(dict.fromkeys([answer, *aliases])), _gold(where, record))


def _gold(where: str, record: dict[str, Any]) -> tuple[GoldPassage, ...]:
    paragraphs = record.get("paragraphs")
    if isinstance(paragraphs, list) and any(isinstance(p, dict) and "is_supporting" in p for p in paragraphs):
        return tuple(
            GoldPassage(str(p.get("title", "")), p.get("paragraph_text", p.get("text")))
            for p in paragraphs if isinstance(p, dict) and _truthy(p.get("is_supporting"))
        )
    if isinstance(record.get("supporting_facts"), list):
        texts = {str(c[0]): " ".join(map(str, c[1])) for c in record.get("context") or []
                 if isinstance(c, list) and len(c) == 2 and isinstance(c[1], list)}
        titles = dict.fromkeys(str(f[0]) for f in record["supporting_facts"] if isinstance(f, list) and f)
        return tuple(GoldPassage(t, texts.get(t)) for t in titles)
    if isinstance(record.get("supporting_titles"), list):
        return tuple(GoldPassage(str(t)) for t in dict.fromkeys(record["supporting_titles"]))
    hint = ("; 2WikiMultihopQA's questions.json has only evidence triples: use "
            "2wikimultihopqa_derived_gold.json") if "evidence" in record else ""
    raise HippoError(f"{where} has no gold passages: expected {GOLD_FIELDS}{hint}")


def _truthy(value: Any) -> bool:
    """is_supporting is a bool in some files and the string "True"/"False" in others."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _squash(text: str) -> str:
    return "".join(text.split())
