"""Every prompt and output schema hippo sends to an LLM, in one place.

OpenIE follows HippoRAG's two steps: named entities first, then triples conditioned on
them, each with a one-shot example and a JSON schema that constrains the output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from hippo.llm.base import Message

NER_SCHEMA = {
    "type": "object",
    "properties": {"named_entities": {"type": "array", "items": {"type": "string"}}},
    "required": ["named_entities"],
    "additionalProperties": False,
}
TRIPLE_SCHEMA = {
    "type": "object",
    "properties": {"triples": {
        "type": "array",
        "items": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 3},
    }},
    "required": ["triples"],
    "additionalProperties": False,
}
FILTER_SCHEMA = {
    "type": "object",
    "properties": {"relevant": {"type": "array", "items": {"type": "integer"}}},
    "required": ["relevant"],
    "additionalProperties": False,
}

CLUES_SCHEMA = {
    "type": "object",
    "properties": {
        "spans": {"type": "array", "items": {"type": "string"}},
        "questions": {"type": "array", "items": {"type": "string"}},
        "answer": {"type": "string"},
    },
    "required": ["spans", "questions", "answer"],
    "additionalProperties": False,
}

_NER_SYSTEM = (
    "Extract the named entities from the paragraph: people, places, organizations, works, events, "
    "dates and other specific names. Reply with JSON: {\"named_entities\": [...]}."
)
_EXAMPLE_PASSAGE = (
    "Lake Orla\nLake Orla is a glacial lake in Norway. The painter Mia Dahl, born in Bergen in 1901, "
    "painted it in 1932 for the Oslo National Gallery."
)
_EXAMPLE_ENTITIES = ["Lake Orla", "Norway", "Mia Dahl", "Bergen", "1901", "1932", "Oslo National Gallery"]
_EXAMPLE_TRIPLES = [
    ["Lake Orla", "is a", "glacial lake"],
    ["Lake Orla", "located in", "Norway"],
    ["Mia Dahl", "born in", "Bergen"],
    ["Mia Dahl", "born in", "1901"],
    ["Mia Dahl", "painted", "Lake Orla"],
    ["Mia Dahl", "painted Lake Orla in", "1932"],
    ["Mia Dahl", "painted Lake Orla for", "Oslo National Gallery"],
]
_TRIPLE_SYSTEM = (
    "Build a knowledge graph from the paragraph as subject-relation-object triples. Each triple should "
    "contain at least one, preferably two, of the named entities given. Replace pronouns with the names "
    "they refer to. Reply with JSON: {\"triples\": [[subject, relation, object], ...]}."
)
_FILTER_SYSTEM = (
    "You filter facts for a question-answering system. Given a question and numbered candidate facts "
    "(subject, relation, object), choose at most 4 facts that help answer the question, possibly through "
    "several reasoning steps. Reply with JSON: {\"relevant\": [fact numbers]}; use [] if none help."
)
_READER_SYSTEM = (
    "Answer the question using only the numbered passages. Answer briefly: a few words or one sentence. "
    "Cite the passages you used by number, like [1] or [2][3]. If the passages do not contain the answer, "
    "say that you do not know."
)

_CLUES_SYSTEM = (
    "You have read a corpus; the memory below holds what you remember of it. To help a search engine "
    "find the passages that answer the question, write: `spans`, sentences of the corpus you recall that "
    "bear on the question; `questions`, more specific questions whose answers lead to the answer (one per "
    "step of reasoning); `answer`, your best guess at the answer (\"\" if you have none). Reply with JSON: "
    "{\"spans\": [...], \"questions\": [...], \"answer\": \"...\"}."
)
_GIST_SYSTEM = (
    "Write a dense gist of the text for later recall: keep every person, place, organization, work and "
    "date it names and how they relate. Reply with the gist only, at most 150 words."
)

_READER_EXAMPLE_PASSAGES = (
    ("Oskar", "Oskar is a mill town founded in 1852 by the fur trader Paul Ivers."),
    ("Lake Merren", "Lake Merren is a lake in northern Ontario. The town of Oskar lies on its north shore."),
)
_READER_EXAMPLE_QUESTION = "Who founded the town on the north shore of Lake Merren?"
_READER_EXAMPLE_ANSWER = "Paul Ivers [1][2]"


def passage_prompt(title: str, text: str) -> str:
    """A passage as shown to the model: its title line (if any), then its text."""
    return f"{title}\n{text}" if title else text


def ner_messages(passage: str) -> list[Message]:
    """Step 1 of OpenIE: the named entities of `passage`."""
    return [
        {"role": "system", "content": _NER_SYSTEM},
        {"role": "user", "content": _EXAMPLE_PASSAGE},
        {"role": "assistant", "content": json.dumps({"named_entities": _EXAMPLE_ENTITIES})},
        {"role": "user", "content": passage},
    ]


def triple_messages(passage: str, entities: Sequence[str]) -> list[Message]:
    """Step 2 of OpenIE: triples of `passage`, conditioned on its named entities."""
    return [
        {"role": "system", "content": _TRIPLE_SYSTEM},
        {"role": "user", "content": _triple_input(_EXAMPLE_PASSAGE, _EXAMPLE_ENTITIES)},
        {"role": "assistant", "content": json.dumps({"triples": _EXAMPLE_TRIPLES})},
        {"role": "user", "content": _triple_input(passage, entities)},
    ]


def _triple_input(passage: str, entities: Sequence[str]) -> str:
    return f"Paragraph:\n{passage}\n\n{json.dumps({'named_entities': list(entities)}, ensure_ascii=False)}"


def filter_messages(question: str, facts: Sequence[tuple[str, str, str]]) -> list[Message]:
    """Recognition memory (HippoRAG 2): which candidate facts matter for `question`."""
    listing = "\n".join(f"{i}. ({s}; {r}; {o})" for i, (s, r, o) in enumerate(facts, start=1))
    return [
        {"role": "system", "content": _FILTER_SYSTEM},
        {"role": "user", "content": f"Question: {question}\n\nCandidate facts:\n{listing}"},
    ]


def clue_messages(question: str, memory: str) -> list[Message]:
    """MemoRAG clues: spans, surrogate questions and a draft answer for `question` from `memory`."""
    return [
        {"role": "system", "content": _CLUES_SYSTEM},
        {"role": "user", "content": f"Memory:\n{memory}\n\nQuestion: {question}"},
    ]


def gist_messages(text: str) -> list[Message]:
    """MemoRAG-lite's global memory: the gist of one piece of the corpus."""
    return [{"role": "system", "content": _GIST_SYSTEM}, {"role": "user", "content": text}]


def reader_messages(
    question: str, passages: Sequence[tuple[str, str]], hints: Sequence[str] = ()
) -> list[Message]:
    """The reader: a brief answer to `question` from numbered (title, text) passages, with citations
    (one worked example first: small models copy its shape, answer then citations); `hints`
    follow the question."""
    return [
        {"role": "system", "content": _READER_SYSTEM},
        {"role": "user", "content": _reader_input(_READER_EXAMPLE_QUESTION, _READER_EXAMPLE_PASSAGES)},
        {"role": "assistant", "content": _READER_EXAMPLE_ANSWER},
        {"role": "user", "content": _reader_input(question, passages, hints)},
    ]


def _reader_input(question: str, passages: Sequence[tuple[str, str]], hints: Sequence[str] = ()) -> str:
    listing = "\n\n".join(
        f"[{i}] {passage_prompt(title, text)}" for i, (title, text) in enumerate(passages, start=1)
    )
    hint = "".join(f"\nHint: {h}" for h in hints)
    return f"Passages:\n{listing}\n\nQuestion: {question}{hint}\nAnswer:"
