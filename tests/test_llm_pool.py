"""Several --llm endpoints balanced client-side: two real llama.cpp servers on 127.0.0.1 (and a
scripted endpoint for a replica that serves another model)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hippo.errors import HippoError
from hippo.llm import LLM, LLMUnavailable, make_llm
from hippo.llm.factory import check_llm_spec
from hippo.llm.pool import EndpointPool
from tests.llm_server import MODEL_ALIAS, LlamaServer, ScriptedAPI, free_port

pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] is not installed")

QUESTIONS = [[{"role": "user", "content": f"Name a colour that starts with {letter}."}] for letter in "BGRWYPOT"]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LlamaServer, LlamaServer]]:
    """Two llama.cpp replicas of the bundled model (started together: loading costs seconds)."""
    logs = tmp_path_factory.mktemp("pool")
    pair = (LlamaServer(free_port(), logs / "a.log"), LlamaServer(free_port(), logs / "b.log"))
    for server in pair:
        server.start(wait=False)
    for server in pair:
        server.wait_ready()
    yield pair
    for server in pair:
        server.stop()


def _pool(spec: str) -> tuple[LLM, EndpointPool]:
    llm = make_llm(spec, concurrency=1, retries=1, backoff=0.05)
    backend = llm.backend
    assert isinstance(backend, EndpointPool)
    return llm, backend


def test_requests_spread_over_both_endpoints_within_their_limits(servers: tuple[LlamaServer, LlamaServer]) -> None:
    llm, pool = _pool(f"{servers[0].url},{servers[1].url}")
    texts = llm.generate(QUESTIONS, max_tokens=4)
    assert len(texts) == len(QUESTIONS) and all(t.strip() for t in texts)
    # one slot each: both serve, neither ever holds two requests (how many each serves depends on
    # which finishes first, e.g. 3 and 5 on a loaded host)
    assert sum(pool.served.values()) == len(QUESTIONS) and min(pool.served.values()) >= 1
    assert pool.peak_in_flight == {servers[0].url: 1, servers[1].url: 1}
    assert llm.name == f"openai:{MODEL_ALIAS}"  # one cache for the replicas


def test_a_dead_endpoint_is_left_out_and_its_requests_go_to_the_other(servers: tuple[LlamaServer, LlamaServer]) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    llm, pool = _pool(f"{dead},{servers[1].url}")
    texts = llm.generate(QUESTIONS[:3], max_tokens=4)
    assert all(t.strip() for t in texts)
    assert pool.served == {dead: 0, servers[1].url: 3}


def test_no_usable_endpoint_is_one_error_naming_them() -> None:
    first, second = (f"http://127.0.0.1:{free_port()}/v1" for _ in range(2))
    llm, _ = _pool(f"{first},{second}")
    with pytest.raises(LLMUnavailable, match=r"no endpoint is usable .*cannot reach it"):
        llm.generate(QUESTIONS[:1], max_tokens=4)


def test_replicas_serving_different_models_are_refused(servers: tuple[LlamaServer, LlamaServer]) -> None:
    other = ScriptedAPI(models=("another-model",))
    try:
        llm, _ = _pool(f"{servers[0].url},{other.url}")
        with pytest.raises(LLMUnavailable, match=r"endpoints serve different models .*pass --llm-model"):
            llm.generate(QUESTIONS[:1], max_tokens=4)
    finally:
        other.close()


def test_every_endpoint_must_be_a_url() -> None:
    with pytest.raises(HippoError, match=r"every comma-separated endpoint must be an http\(s\):// URL"):
        check_llm_spec("http://127.0.0.1:8000/v1,local")
