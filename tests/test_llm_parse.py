"""Validation of LLM output: recorded malformed OpenIE responses, reader citations, request keys."""

from __future__ import annotations

import pytest

from hippo.errors import HippoError
from hippo.extract.llm_ie import build_extraction, parse_entities, parse_triples
from hippo.llm import make_llm
from hippo.llm.base import Request
from hippo.llm.jsonparse import NotJSON, loads_lenient
from hippo.llm.reader import citations, strip_citations

# Outputs recorded from small instruct models (SmolLM2, Qwen2.5-0.5B) on OpenIE prompts.
NER_OUTPUTS = [
    ('{"named_entities": ["Ada Brennan", "Dunmore", "1921"]}', ["Ada Brennan", "Dunmore", "1921"], 0),
    ('```json\n{"named_entities": ["Ada Brennan", "Dunmore"]}\n```', ["Ada Brennan", "Dunmore"], 1),
    ('Here are the entities:\n{"Named Entities": ["Keel"]}\nLet me know!', ["Keel"], 2),
    ('{"entities": [{"name": "Tromsø"}, 1901]}', ["Tromsø", "1901"], 3),
    ('{"named_entities": ["Erik Halvorsen", "Halvorsen Labor', ["Erik Halvorsen"], 1),
    ('["Dunmore", "Ireland"]', ["Dunmore", "Ireland"], 1),
]


@pytest.mark.parametrize(("text", "names", "repairs"), NER_OUTPUTS)
def test_ner_outputs_are_read_with_repairs_counted(text: str, names: list[str], repairs: int) -> None:
    assert parse_entities(text) == (names, repairs)


TRIPLE_OUTPUTS = [
    ('{"triples": [["Ada Brennan", "born in", "Dunmore"]]}', [("Ada Brennan", "born in", "Dunmore")], 0),
    ('```\n{"triples": [["Keel", "designed", "Dunmore Lighthouse"]]}\n```',
     [("Keel", "designed", "Dunmore Lighthouse")], 1),
    ('{"triples": [["Ada", "born in", "Dunmore"], ["Ada", "physicist"], ["a", "b", "c", "d"]]}',
     [("Ada", "born in", "Dunmore")], 2),
    ('{"triples": [["Ada", "worked at", "Halvorsen Laboratories"], ["Ada", "born', [
        ("Ada", "worked at", "Halvorsen Laboratories")], 1),
    ('[{"Subject": "Erik", "predicate": "founded", "object": "Halvorsen Laboratories"}]',
     [("Erik", "founded", "Halvorsen Laboratories")], 2),
    ('{"Triple List": [["Ingrid Sol", "painted", "The Blue Harbour"]]}',
     [("Ingrid Sol", "painted", "The Blue Harbour")], 2),
    ('{"triples": [["Ada", 1921, "born"], [null, "is", "x"]]}', [("Ada", "1921", "born")], 1),
]


@pytest.mark.parametrize(("text", "triples", "repairs"), TRIPLE_OUTPUTS)
def test_triple_outputs_keep_valid_triples_only(text: str, triples: list[tuple[str, str, str]], repairs: int) -> None:
    assert parse_triples(text) == (triples, repairs)


@pytest.mark.parametrize("text", ["I am sorry, I cannot help with that.", "", "{\"triples\": "])
def test_output_without_json_is_an_error(text: str) -> None:
    with pytest.raises(NotJSON):
        parse_triples(text)
    with pytest.raises(NotJSON):
        parse_entities(text)


def test_extraction_normalizes_names_and_keeps_every_script() -> None:
    triples = [("The Tokyo Tower", "Located In", "東京"), ("Αθήνα", "capital of", "Ελλάδα"), ("", "is", "x")]
    extraction = build_extraction(["Москва", "  the  Dunmore Lighthouse's "], triples, repairs=1)
    assert extraction.entities == ("москва", "dunmore lighthouse", "tokyo tower", "東京", "αθήνα", "ελλάδα")
    assert [t.text() for t in extraction.triples] == ["tokyo tower located in 東京", "αθήνα capital of ελλάδα"]
    assert extraction.repairs == 2
    assert extraction.error is None


def test_lenient_json_counts_repairs() -> None:
    assert loads_lenient('{"a": 1}') == ({"a": 1}, 0)
    assert loads_lenient('```json\n{"a": 1}\n```') == ({"a": 1}, 1)
    assert loads_lenient('Sure: [1, 2] done') == ([1, 2], 1)


def test_reader_citations_are_unique_and_in_range() -> None:
    assert citations("Thomas Keel [2][1], see also [2, 3] and [9].", 3) == [2, 1, 3]
    assert citations("no idea", 3) == []


def test_citations_are_stripped_for_scoring() -> None:
    assert strip_citations("Samuel Pike [5]") == "Samuel Pike"
    assert strip_citations("Born in Turin [1][2, 3], Italy.") == "Born in Turin , Italy."
    assert strip_citations("no markers") == "no markers"


def test_cache_key_covers_model_prompt_schema_and_sampling() -> None:
    messages = [{"role": "user", "content": "hi"}]
    base = Request.make(messages)
    keys = {
        base.cache_key("openai", "m"),
        base.cache_key("openai", "other"),
        base.cache_key("llama-cpp", "m"),
        Request.make(messages, {"type": "object"}).cache_key("openai", "m"),
        Request.make(messages, max_tokens=7).cache_key("openai", "m"),
        Request.make(messages, temperature=0.5).cache_key("openai", "m"),
        Request.make([{"role": "user", "content": "hi!"}]).cache_key("openai", "m"),
    }
    assert len(keys) == 7
    assert Request.make(list(messages)).cache_key("openai", "m") == base.cache_key("openai", "m")


@pytest.mark.parametrize("spec", ["gpt-4", "vllm:", "ftp://host/v1"])
def test_unknown_llm_spec_names_the_choices(spec: str) -> None:
    with pytest.raises(HippoError, match=r"--llm .* is not understood; use local"):
        make_llm(spec)
