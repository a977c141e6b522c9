"""Remote-API behaviours against a scripted local HTTP endpoint: retries on 429/5xx, 401, 404,
bodies that are not JSON, the cache rules, and the OpenIE / filter / reader layers on top."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hippo.corpus import Passage
from hippo.extract.llm_ie import LLMExtractor
from hippo.llm import LLM, LLMRequestError, LLMUnavailable, make_llm
from hippo.llm.prompts import NER_SCHEMA
from hippo.llm.reader import answer
from hippo.llm.recognition import filter_facts
from tests.llm_server import ScriptedAPI, free_port

HELLO = [[{"role": "user", "content": "hello"}]]


@pytest.fixture
def scripted_api() -> Iterator[ScriptedAPI]:
    """A fresh scripted endpoint per test."""
    api = ScriptedAPI()
    yield api
    api.close()


def fast(url: str, cache: Path | None = None, retries: int = 3) -> LLM:
    """An HTTP LLM with quick retries and one request at a time (scripted replies come in order)."""
    return make_llm(url, cache_path=cache, retries=retries, backoff=0.01, concurrency=1)


def test_retries_429_and_503_then_succeeds(scripted_api: ScriptedAPI) -> None:
    scripted_api.reply("slow down", status=429, headers={"Retry-After": "0"})
    scripted_api.reply("busy", status=503)
    scripted_api.reply("hi there")
    llm = fast(scripted_api.url)
    assert llm.generate(HELLO) == ["hi there"]
    assert len(scripted_api.requests) == 3
    assert llm.name == "openai:fake-model"
    assert scripted_api.requests[0]["model"] == "fake-model"


def test_persistent_server_error_fails_that_request_only(scripted_api: ScriptedAPI) -> None:
    for _ in range(3):
        scripted_api.raw(500, '{"error": {"message": "boom"}}')
    llm = fast(scripted_api.url, retries=2)
    (result,) = llm.generate_each(HELLO)
    assert isinstance(result, LLMRequestError) and "HTTP 500: boom" in str(result)
    with pytest.raises(LLMRequestError, match="HTTP 500"):
        llm.generate(HELLO)


def test_api_key_comes_from_env_and_401_says_which_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIPPO_LLM_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fallback")
    api = ScriptedAPI(models_status=401)
    try:
        with pytest.raises(LLMUnavailable, match=r"HTTP 401 .* set HIPPO_LLM_API_KEY"):
            fast(api.url).generate(HELLO)
        assert api.headers[0]["Authorization"] == "Bearer sk-fallback"
    finally:
        api.close()


def test_body_that_is_not_json_is_a_request_error(scripted_api: ScriptedAPI) -> None:
    scripted_api.raw(200, "<html>proxy login</html>")
    (result,) = fast(scripted_api.url).generate_each(HELLO)
    assert isinstance(result, LLMRequestError)
    assert "not an OpenAI chat completion" in str(result)


def test_404_is_unavailable(scripted_api: ScriptedAPI) -> None:
    scripted_api.raw(404, '{"error": {"message": "The model `x` does not exist."}}')
    with pytest.raises(LLMUnavailable, match=r"HTTP 404 .* check the URL ends in /v1"):
        fast(scripted_api.url).generate(HELLO)


def test_unreachable_endpoint_is_one_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(LLMUnavailable, match=r"cannot reach it .* after 2 tries; start the server or fix --llm"):
        fast(url, retries=1).generate(HELLO)


def test_schema_goes_out_as_json_schema_and_only_json_is_cached(scripted_api: ScriptedAPI, tmp_path: Path) -> None:
    scripted_api.reply("not json at all")
    scripted_api.reply('{"named_entities": []}')
    cache = tmp_path / "cache.sqlite"
    llm = fast(scripted_api.url, cache)
    assert llm.generate(HELLO, NER_SCHEMA) == ["not json at all"]
    assert llm.generate(HELLO, NER_SCHEMA) == ['{"named_entities": []}']
    assert scripted_api.requests[0]["response_format"]["json_schema"]["schema"] == NER_SCHEMA
    again = fast(scripted_api.url, cache)
    assert again.generate(HELLO, NER_SCHEMA) == ['{"named_entities": []}']
    assert (again.stats.calls, again.stats.cache_hits) == (0, 1)


def test_extractor_repairs_outputs_and_rerun_retries_only_failures(scripted_api: ScriptedAPI, tmp_path: Path) -> None:
    passages = [Passage("p1", "Ada Brennan", "Ada Brennan was born in Dunmore."), Passage("p2", "Keel", "Keel.")]
    scripted_api.reply('```json\n{"named_entities": ["Ada Brennan", "Dunmore"]}\n```')
    scripted_api.reply("Sorry, I can't do that.")
    scripted_api.reply('{"triples": [["Ada Brennan", "born in", "Dunmore"], ["Ada"], ["Ada Brennan", "was bo')
    cache = tmp_path / "cache.sqlite"
    first = LLMExtractor.from_options(llm=fast(scripted_api.url, cache), max_tokens=64).extract(passages)
    assert first[0].triples[0].text() == "ada brennan born in dunmore"
    assert first[0].entities == ("ada brennan", "dunmore")
    assert first[0].repairs == 3 and first[0].error is None
    assert first[1].error is not None and first[1].error.startswith("named entities: not JSON")

    scripted_api.reply('{"named_entities": ["Keel"]}')
    scripted_api.reply('{"triples": []}')
    llm = fast(scripted_api.url, cache)
    (second,) = LLMExtractor(llm, max_tokens=64).extract(passages[1:])  # the indexer retries failures only
    assert second.error is None and second.entities == ("keel",)
    assert (llm.stats.calls, llm.stats.cache_hits) == (2, 0)

    (third,) = LLMExtractor(llm, max_tokens=64).extract(passages[:1])  # readable (repaired) output is cached
    assert third == first[0]
    assert (llm.stats.calls, llm.stats.cache_hits) == (2, 2)


def test_recognition_filter_keeps_listed_facts_and_raises_on_bad_output(scripted_api: ScriptedAPI) -> None:
    """Unusable output raises, so the link stage falls back to its no-LLM selection."""
    facts = [("ada", "born in", "dunmore"), ("keel", "designed", "lighthouse"), ("x", "y", "z")]
    scripted_api.reply('{"relevant": [2, 1, 9]}')
    scripted_api.reply("facts 1 and 2")
    llm = fast(scripted_api.url)
    assert filter_facts(llm, "Who designed the lighthouse?", facts) == [0, 1]
    prompt = scripted_api.requests[0]["messages"][1]["content"]
    assert "2. (keel; designed; lighthouse)" in prompt
    with pytest.raises(LLMRequestError, match="output unusable"):
        filter_facts(llm, "Who?", facts)
    assert filter_facts(llm, "Who?", []) == []


def test_reader_answers_with_citations(scripted_api: ScriptedAPI) -> None:
    scripted_api.reply("Answer: Thomas Keel [2][7]")
    result = answer(fast(scripted_api.url), "Who designed it?", [("Ada", "Ada text"), ("Dunmore", "Keel built it")])
    assert (result.text, result.citations) == ("Thomas Keel [2]", [2])  # [7] is not a passage
    prompt = json.dumps(scripted_api.requests[0]["messages"])
    assert "[1] Ada\\nAda text" in prompt and "[2] Dunmore" in prompt
