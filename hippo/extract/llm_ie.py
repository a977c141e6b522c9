"""LLM OpenIE (`hippo index --extractor llm`): HippoRAG's NER pass, then triples given the entities.

Outputs are schema-constrained where the backend can, and validated anyway: code fences are
stripped, key spellings normalized, truncated JSON salvaged, triples of the wrong arity or with
empty parts dropped. Each such fix counts as a repair. A passage whose request fails or whose
output holds no JSON gets `error` set, is not stored, and is retried by the next run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from hippo.corpus import Passage
from hippo.errors import HippoError
from hippo.extract.base import Extraction, Triple, normalize_entity, normalize_relation
from hippo.llm import LLM, LLMRequestError, make_llm
from hippo.llm.jsonparse import NotJSON, loads_lenient, normalize_keys
from hippo.llm.prompts import NER_SCHEMA, TRIPLE_SCHEMA, ner_messages, passage_prompt, triple_messages

_ENTITY_KEYS = ("named_entities", "entities", "named_entity", "entity_list", "ner")
_TRIPLE_KEYS = ("triples", "triple_list", "relations", "facts")
_ROLE_KEYS = (("subject", "head", "s"), ("relation", "predicate", "relationship", "r", "p"), ("object", "tail", "o"))
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_FLAT_ARRAY = re.compile(r"\[[^\[\]]*\]")


class LLMExtractor:
    """OpenIE with an LLM from `hippo.llm` (any backend; responses cached by the LLM)."""

    name = "llm"

    def __init__(self, llm: LLM, *, max_tokens: int = 512) -> None:
        self.llm = llm
        self.max_tokens = max_tokens

    @classmethod
    def from_options(
        cls, llm: LLM | str | None = None, llm_model: str | None = None, cache_path: Path | None = None,
        max_tokens: int = 512, **unknown: Any,
    ) -> LLMExtractor:
        """An extractor from `--llm`-style options (an LLM instance is used as is)."""
        if unknown:
            raise HippoError(f"extractor 'llm' has no option(s) {', '.join(sorted(unknown))}; "
                             "it takes llm, llm_model, cache_path, max_tokens")
        if not isinstance(llm, LLM):
            llm = make_llm(llm, llm_model, cache_path)
        return cls(llm, max_tokens=max_tokens)

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        """One Extraction per passage: NER for the batch, then triples for those NER succeeded on."""
        texts = [passage_prompt(p.title, p.text) for p in passages]
        ner_out = self.llm.generate_each(
            [ner_messages(t) for t in texts], NER_SCHEMA, max_tokens=self.max_tokens, keep=_readable(parse_entities)
        )
        named: dict[int, tuple[list[str], int]] = {}
        results: list[Extraction] = [Extraction() for _ in passages]
        for i, output in enumerate(ner_out):
            try:
                named[i] = parse_entities(_text(output))
            except (LLMRequestError, NotJSON) as err:
                results[i] = Extraction(error=f"named entities: {err}")
        order = list(named)
        triple_out = self.llm.generate_each(
            [triple_messages(texts[i], named[i][0]) for i in order], TRIPLE_SCHEMA, max_tokens=self.max_tokens,
            keep=_readable(parse_triples),
        )
        for i, output in zip(order, triple_out, strict=True):
            try:
                triples, repairs = parse_triples(_text(output))
            except (LLMRequestError, NotJSON) as err:
                results[i] = Extraction(error=f"triples: {err}")
                continue
            results[i] = build_extraction(named[i][0], triples, named[i][1] + repairs)
        return results


def _readable(parse: Callable[[str], object]) -> Callable[[str], bool]:
    """A cache filter: keep responses `parse` can read (so unreadable ones are asked again)."""

    def readable(text: str) -> bool:
        try:
            parse(text)
        except NotJSON:
            return False
        return True

    return readable


def _text(output: str | LLMRequestError) -> str:
    if isinstance(output, LLMRequestError):
        raise output
    return output


def build_extraction(names: Iterable[str], triples: Iterable[tuple[str, str, str]], repairs: int) -> Extraction:
    """Normalized entities and triples; triples with a part that normalizes to nothing are dropped."""
    entities: dict[str, None] = {}
    kept: dict[Triple, None] = {}
    for name in names:
        if key := normalize_entity(name):
            entities[key] = None
    for subject, relation, obj in triples:
        triple = Triple(normalize_entity(subject), normalize_relation(relation), normalize_entity(obj))
        if not (triple.subject and triple.relation and triple.object):
            repairs += 1
            continue
        kept[triple] = None
        entities.setdefault(triple.subject, None)
        entities.setdefault(triple.object, None)
    return Extraction(entities=tuple(entities), triples=tuple(kept), repairs=repairs)


def parse_entities(text: str) -> tuple[list[str], int]:
    """Entity names from NER output and the repairs needed; NotJSON if nothing is readable."""
    try:
        value, repairs = loads_lenient(text)
    except NotJSON:
        salvaged = [s for s in _complete_strings(text) if isinstance(s, str)]
        if not salvaged:
            raise
        return salvaged, 1
    items, extra = _listing(value, _ENTITY_KEYS)
    repairs += extra
    names: list[str] = []
    for item in items:
        name = _scalar(item) if not isinstance(item, dict) else _scalar(
            next((item[k] for k in ("name", "entity", "text") if k in item), None))
        repairs += not isinstance(item, str)
        if name:
            names.append(name)
    return names, repairs


def parse_triples(text: str) -> tuple[list[tuple[str, str, str]], int]:
    """(subject, relation, object) triples from OpenIE output and the repairs needed.

    Accepts {"triples": [[s, r, o], ...]}, a bare list, {"subject", "relation", "object"}
    objects and truncated output (complete triples are kept). NotJSON if nothing is readable.
    """
    try:
        value, repairs = loads_lenient(text)
    except NotJSON:
        arrays = [_loads_or_none(a) for a in _FLAT_ARRAY.findall(text)]
        if not any(isinstance(a, list) for a in arrays):
            raise
        value, repairs = {"triples": [a for a in arrays if isinstance(a, list)]}, 1
    items, extra = _listing(value, _TRIPLE_KEYS)
    repairs += extra
    triples: list[tuple[str, str, str]] = []
    for item in items:
        triple = _triple(item)
        if triple is None:
            repairs += 1
        else:
            repairs += not isinstance(item, list)
            triples.append(triple)
    return triples, repairs


def _listing(value: Any, keys: tuple[str, ...]) -> tuple[list[Any], int]:
    """The list under one of `keys` (or the only list value, or `value` itself) and repairs."""
    if isinstance(value, list):
        return value, 1
    if not isinstance(value, dict):
        return [], 1
    value, repairs = normalize_keys(value)
    if isinstance(value.get(keys[0]), list):
        return value[keys[0]], repairs
    lists = [value[k] for k in keys[1:] if isinstance(value.get(k), list)]
    lists = lists or [v for v in value.values() if isinstance(v, list)]
    return (lists[0] if lists else []), repairs + 1


def _triple(item: Any) -> tuple[str, str, str] | None:
    if isinstance(item, dict):
        item = normalize_keys(item)[0]
        item = [next((item[k] for k in names if k in item), None) for names in _ROLE_KEYS]
    if not isinstance(item, list) or len(item) != 3:
        return None
    parts = [_scalar(p) for p in item]
    return (parts[0], parts[1], parts[2]) if all(parts) else None


def _scalar(value: Any) -> str:
    """A string or number as text; anything else as empty."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _complete_strings(text: str) -> Iterable[Any]:
    """The complete JSON string values (not keys) in possibly truncated JSON `text`."""
    for match in _JSON_STRING.finditer(text):
        if not text[match.end():].lstrip().startswith(":"):
            yield _loads_or_none(match.group())


def _loads_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None
