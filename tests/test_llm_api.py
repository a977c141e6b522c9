"""Remote-API behaviours against a scripted local HTTP endpoint: retries on 429/5xx, 401, 404,
bodies that are not JSON, the cache rules, and the OpenIE / filter / reader layers on top."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hippo.cli import main
from hippo.corpus import Passage
from hippo.errors import HippoError
from hippo.extract.llm_ie import LLMExtractor
from hippo.llm import LLM, LLMRequestError, LLMUnavailable, make_llm
from hippo.llm.prompts import NER_SCHEMA
from hippo.llm.reader import answer
from hippo.llm.recognition import filter_facts
from tests.llm_server import ScriptedAPI, free_port

HELLO = [[{"role": "user", "content": "hello"}]]
QUESTIONS = ["Who designed the Marlow Viaduct?", "Where was Ada Brennan born?", "Who trained Thomas Keel?"]


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


def test_refused_endpoint_is_tried_once_for_the_whole_run(http_attempts: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # a real closed port: connection refused
    llm = fast(url, retries=3)
    with pytest.raises(LLMUnavailable, match=r"cannot reach it .*; start the server or fix --llm") as first:
        llm.generate(HELLO)
    assert len(http_attempts) == 1  # never reached: refused at once, not retried
    for _ in range(3):
        with pytest.raises(LLMUnavailable) as later:
            llm.generate(HELLO)
        assert later.value is first.value  # the same error, so a caller can say it once
    assert len(http_attempts) == 1  # later calls fail without touching the network


def test_endpoint_that_went_away_is_retried_then_given_up(scripted_api: ScriptedAPI, http_attempts: list[str]) -> None:
    scripted_api.reply("hi")
    llm = fast(scripted_api.url, retries=2)
    assert llm.generate(HELLO) == ["hi"]
    reached = len(http_attempts)  # GET /models and one POST
    scripted_api.close()  # a server seen before may be restarting: its refusals are retried
    with pytest.raises(LLMUnavailable, match=r"cannot reach it .* after 3 tries"):
        llm.generate([[{"role": "user", "content": "again"}]])
    assert len(http_attempts) == reached + 3
    with pytest.raises(LLMUnavailable):
        llm.generate([[{"role": "user", "content": "once more"}]])
    assert len(http_attempts) == reached + 3


def test_cached_answers_survive_an_unavailable_endpoint(scripted_api: ScriptedAPI, tmp_path: Path) -> None:
    scripted_api.reply("hi")
    cache = tmp_path / "cache.sqlite"
    assert make_llm(scripted_api.url, "fake-model", cache_path=cache).generate(HELLO) == ["hi"]
    scripted_api.close()
    llm = make_llm(scripted_api.url, "fake-model", cache_path=cache, retries=0)
    with pytest.raises(LLMUnavailable):
        llm.generate([[{"role": "user", "content": "not cached"}]])
    assert llm.generate(HELLO) == ["hi"]  # the cache still answers what it holds


def test_making_a_client_contacts_nothing(scripted_api: ScriptedAPI) -> None:
    llm = make_llm(scripted_api.url)
    assert scripted_api.headers == []
    llm.close()


@pytest.mark.parametrize("url", ["http://example.com/v1", "http://10.1.2.3:8000/v1", "http://[2001:db8::1]:80/v1"])
def test_api_key_is_never_sent_over_plain_http_to_another_host(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIPPO_LLM_API_KEY", "sk-secret")
    with pytest.raises(HippoError, match=r"refusing to send the API key \(\$HIPPO_LLM_API_KEY\) over http:// to "
                       r".*; use https:// or a loopback address") as err:
        make_llm(url)
    assert "\n" not in str(err.value) and "sk-secret" not in str(err.value)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.2", "[::1]"])
def test_api_key_may_go_over_http_to_loopback(host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIPPO_LLM_API_KEY", "sk-local")
    make_llm(f"http://{host}:8000/v1").close()  # 127.0.0.1 is sent a key in the 401 test above


def test_https_and_keyless_http_are_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIPPO_LLM_API_KEY", "sk-secret")
    make_llm("https://example.com/v1").close()
    monkeypatch.delenv("HIPPO_LLM_API_KEY")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    make_llm("http://example.com/v1").close()


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


@pytest.fixture
def index_copy(sample_index: Path, tmp_path: Path) -> Path:
    """The sample index copied (asking with an LLM adds its response cache to the index)."""
    target = tmp_path / "index"
    shutil.copytree(sample_index, target)
    return target


def _ask(index: Path, *args: str) -> Result:
    queries = index.parent / "questions.jsonl"
    queries.write_text("".join(json.dumps({"id": i, "question": q}) + "\n" for i, q in enumerate(QUESTIONS)))
    return CliRunner().invoke(main, ["ask", "--queries", str(queries), "--index", str(index), "--json", *args])


def test_ask_with_an_unreachable_llm_tries_it_once(
    index_copy: Path, http_attempts: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with caplog.at_level(logging.WARNING):
        result = _ask(index_copy, "--llm", url)
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == len(QUESTIONS) and all(a["passages"] and a["answer"] is None for a in answers)
    assert all("cannot reach it" in a["note"] for a in answers)
    assert len(http_attempts) == 1  # 3 questions x (recognition filter + reader): one refused connection
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and url in r.getMessage()]
    assert len(warnings) == 1, warnings  # said once (a line on stderr outside pytest), not per question


@pytest.mark.parametrize("pipeline", ["dense", "hipporag2"])
def test_retrieve_only_contacts_the_llm_only_for_a_stage_that_uses_it(
    pipeline: str, index_copy: Path, scripted_api: ScriptedAPI, http_attempts: list[str]
) -> None:
    for _ in QUESTIONS:
        scripted_api.reply('{"relevant": [1]}')
    result = _ask(index_copy, "--retrieve-only", "--pipeline", pipeline, "--llm", scripted_api.url)
    assert result.exit_code == 0, result.output
    if pipeline == "dense":  # nothing in it uses an LLM: not even the model list is asked for
        assert http_attempts == [] and scripted_api.headers == []
    else:  # the recognition filter does; the reader is skipped
        assert len(scripted_api.requests) == len(QUESTIONS)
        assert all(r["messages"][0]["content"].startswith("You filter facts") for r in scripted_api.requests)


@pytest.mark.parametrize(("spec", "message"), [
    ("http://example.com/v1", "refusing to send the API key ($HIPPO_LLM_API_KEY) over http:// to example.com"),
    ("gpt4", "--llm 'gpt4' is not understood"),
])
def test_ask_with_a_bad_llm_setting_is_a_one_line_error(
    spec: str, message: str, index_copy: Path, monkeypatch: pytest.MonkeyPatch, http_attempts: list[str]
) -> None:
    monkeypatch.setenv("HIPPO_LLM_API_KEY", "sk-secret")
    result = CliRunner().invoke(main, ["ask", QUESTIONS[0], "--index", str(index_copy), "--llm", spec])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("error: ") and message in result.output
    assert http_attempts == []
