"""The OpenAI-compatible backend against a real llama.cpp server running the bundled SmolLM2."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from hippo.cli import main
from hippo.config import IndexSettings
from hippo.corpus import Passage
from hippo.extract.llm_ie import LLMExtractor
from hippo.indexer import Indexer, IndexReport
from hippo.llm import LLM, LLMRequestError, LLMUnavailable, make_llm
from hippo.llm.prompts import FILTER_SCHEMA
from hippo.llm.reader import answer
from hippo.llm.recognition import filter_facts
from hippo.store import IndexStore
from tests.llm_server import MODEL_ALIAS, LlamaServer, free_port

pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] is not installed")

SHORT = [[{"role": "user", "content": "Name one colour."}]]
CORPUS = [
    {"title": "Ada Brennan", "text": "Ada Brennan was a physicist born in Dunmore."},
    {"title": "Filler", "text": "word " * 1200},  # longer than the server's 1024-token context
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """One llama.cpp server for the module (started once: loading costs seconds)."""
    llama = LlamaServer(free_port(), tmp_path_factory.mktemp("llama") / "server.log")
    llama.start()
    yield llama
    llama.stop()


def test_chat_uses_the_first_listed_model(server: LlamaServer) -> None:
    llm = make_llm(server.url)
    texts = llm.generate([*SHORT, [{"role": "user", "content": "Say yes."}]], max_tokens=6)
    assert len(texts) == 2 and all(isinstance(t, str) and t.strip() for t in texts)
    assert llm.name == f"openai:{MODEL_ALIAS}"


def test_json_schema_output_parses(server: LlamaServer) -> None:
    messages = [{"role": "user", "content": "Which numbers are even: 1, 2, 3, 4? Reply as JSON."}]
    (text,) = make_llm(server.url).generate([messages], FILTER_SCHEMA, max_tokens=24)
    numbers = json.loads(text)["relevant"]
    assert numbers and all(isinstance(n, int) for n in numbers)  # an empty list would pass `isinstance` too


def test_cache_makes_a_repeat_free(server: LlamaServer, tmp_path: Path) -> None:
    first = make_llm(server.url, cache_path=tmp_path / "c.sqlite")
    expected = first.generate(SHORT, max_tokens=6)
    again = make_llm(server.url, cache_path=tmp_path / "c.sqlite")
    assert again.generate(SHORT, max_tokens=6) == expected
    assert (again.stats.calls, again.stats.cache_hits) == (0, 1)


def test_wrong_model_name_lists_the_served_ones(server: LlamaServer) -> None:
    with pytest.raises(LLMUnavailable, match=rf"--llm-model 'gpt-9': not served by .* it serves {MODEL_ALIAS}"):
        make_llm(server.url, model="gpt-9").generate(SHORT, max_tokens=4)


def test_context_overflow_fails_only_that_request(server: LlamaServer) -> None:
    long = [{"role": "user", "content": "word " * 1500}]
    overflow, fine = make_llm(server.url).generate_each([long, *SHORT], max_tokens=4)
    assert isinstance(overflow, LLMRequestError) and "context" in str(overflow)
    assert isinstance(fine, str) and fine.strip()


def test_index_command_reports_a_wrong_model_in_one_line(server: LlamaServer, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.json"
    corpus.write_text(json.dumps(CORPUS[:1]))
    args = ["index", str(corpus), "--index", str(tmp_path / "idx"), "--extractor", "llm",
            "--llm", server.url, "--llm-model", "nope", "--quiet"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: --llm-model 'nope': not served by {server.url}; it serves {MODEL_ALIAS}"
    )


def test_recognition_filter_and_reader_run_on_a_real_model(
    server: LlamaServer, caplog: pytest.LogCaptureFixture
) -> None:
    llm = make_llm(server.url)
    facts = [("ada brennan", "born in", "dunmore"), ("dunmore", "located in", "ireland")]
    with caplog.at_level(logging.WARNING):
        kept = filter_facts(llm, "Where was Ada Brennan born?", facts, max_tokens=24)
    # the model's own choice, not the keep-everything fallback for a failed or unreadable reply
    assert not caplog.records and llm.stats.failures == 0
    assert kept and set(kept) <= {0, 1}
    reply = answer(llm, "Where was Ada Brennan born?", [("Ada Brennan", CORPUS[0]["text"])], max_tokens=24)
    assert "Dunmore" in reply.text and set(reply.citations) <= {1}


def test_llm_indexing_skips_failures_and_reruns_only_them(server: LlamaServer, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.json"
    corpus.write_text(json.dumps(CORPUS))
    cache = tmp_path / "llm_cache.sqlite"

    def index() -> tuple[LLM, IndexReport]:
        llm = make_llm(server.url, cache_path=cache)
        options = {"llm": llm, "max_tokens": 32}
        return llm, Indexer(tmp_path / "index", IndexSettings(extractor="llm"), quiet=True,
                            extractor_options=options).run([corpus])

    llm, report = index()
    assert (report.passages_extracted, report.extraction_failures, llm.stats.calls) == (1, 1, 3)
    with IndexStore.open(tmp_path / "index") as store:
        (extraction,) = store.extractions("llm").values()
        assert store.counts()["passages"] == 2

    llm, report = index()  # unchanged corpus: only the passage that failed is tried again
    assert (report.passages_extracted, report.extraction_failures, llm.stats.calls) == (0, 1, 1)

    llm = make_llm(server.url, cache_path=cache)  # same passages anew: all answers come from the cache
    passages = [Passage(str(i), p["title"], p["text"]) for i, p in enumerate(CORPUS)]
    results = LLMExtractor(llm, max_tokens=32).extract(passages)
    assert results[0] == extraction and results[1].error
    assert (llm.stats.calls, llm.stats.cache_hits, llm.stats.failures) == (1, 2, 1)


def test_retries_carry_over_a_server_restart(server: LlamaServer) -> None:
    llm = make_llm(server.url, retries=8, backoff=0.25)
    assert llm.backend.model == MODEL_ALIAS
    server.stop()

    def restart() -> None:
        time.sleep(1.0)
        server.start(wait=False)

    thread = threading.Thread(target=restart)
    thread.start()
    try:
        assert llm.generate([[{"role": "user", "content": "Say hi."}]], max_tokens=4)
    finally:
        thread.join()
        server.wait_ready()


def test_server_gone_for_good_is_given_up_once(server: LlamaServer, http_attempts: list[str]) -> None:
    llm = make_llm(server.url, retries=2, backoff=0.01)
    assert llm.generate(SHORT, max_tokens=4)
    server.stop()
    try:
        before = len(http_attempts)
        with pytest.raises(LLMUnavailable, match="after 3 tries; start the server or fix --llm"):
            llm.generate([[{"role": "user", "content": "Say hi."}]], max_tokens=4)
        assert len(http_attempts) == before + 3  # it answered before, so a refusal is retried
        with pytest.raises(LLMUnavailable):
            llm.generate([[{"role": "user", "content": "Say yes."}]], max_tokens=4)
        assert len(http_attempts) == before + 3  # then no call contacts it again
    finally:
        server.start()


def test_unreachable_endpoint_fails_fast_with_one_line(http_attempts: list[str]) -> None:
    with pytest.raises(LLMUnavailable) as err:
        make_llm(f"http://127.0.0.1:{free_port()}/v1").generate(SHORT)  # default retries
    assert "\n" not in str(err.value) and "start the server or fix --llm" in str(err.value)
    assert len(http_attempts) == 1
