"""In-process backends: the bundled SmolLM2 gguf on llama.cpp and on transformers, and vLLM where a GPU exists."""

from __future__ import annotations

import importlib.util
import json

import pytest

from hippo.errors import HippoError
from hippo.llm import LLM, LLMRequestError, LLMUnavailable, make_llm
from hippo.llm.factory import local_runtime
from hippo.llm.prompts import FILTER_SCHEMA

ASK = [{"role": "user", "content": "Which numbers are even: 1, 2, 3, 4? Reply as JSON."}]
HAS_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None
RUNTIMES = [
    pytest.param("llama-cpp", marks=pytest.mark.skipif(not HAS_LLAMA_CPP, reason="llama-cpp-python is not installed")),
    "transformers",
]


@pytest.fixture(scope="module", params=RUNTIMES)
def local(request: pytest.FixtureRequest) -> LLM:
    """The bundled model on each runtime, loaded once (small context so overflow is cheap to provoke)."""
    return make_llm("local", n_ctx=512, n_threads=1, runtime=request.param)


def test_local_generates_text_and_schema_json(local: LLM) -> None:
    (text,) = local.generate([[{"role": "user", "content": "Say hi."}]], max_tokens=4)
    assert text.strip()
    (constrained,) = local.generate([ASK], FILTER_SCHEMA, max_tokens=24)
    assert isinstance(json.loads(constrained)["relevant"], list)
    assert local.name in ("llama-cpp:SmolLM2-135M-Instruct.Q4_1", "transformers:SmolLM2-135M-Instruct.Q4_1")


def test_local_context_overflow_fails_only_that_request(local: LLM) -> None:
    overflow, fine = local.generate_each([[{"role": "user", "content": "word " * 800}], ASK], max_tokens=2)
    assert isinstance(overflow, LLMRequestError) and "context window" in str(overflow)
    assert isinstance(fine, str)


def test_local_runtime_is_llama_cpp_when_installed_else_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIPPO_LLM_RUNTIME", raising=False)
    assert local_runtime() == ("llama-cpp" if HAS_LLAMA_CPP else "transformers")
    monkeypatch.setenv("HIPPO_LLM_RUNTIME", "transformers")
    assert local_runtime() == "transformers"
    assert local_runtime("llama-cpp") == "llama-cpp"  # an explicit choice wins
    monkeypatch.setenv("HIPPO_LLM_RUNTIME", "onnx")
    with pytest.raises(HippoError, match=r"^\$HIPPO_LLM_RUNTIME='onnx' is not a local LLM runtime; use llama-cpp or"):
        local_runtime()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_local_missing_gguf_is_a_clear_error_at_first_use(runtime: str) -> None:
    llm = make_llm("local:/nonexistent/missing.gguf", runtime=runtime)  # loading waits for the first request
    with pytest.raises(LLMUnavailable, match=r"--llm-model .*missing\.gguf: no such \.gguf file") as first:
        llm.generate([ASK])
    with pytest.raises(LLMUnavailable) as again:
        llm.generate([ASK])
    assert again.value is first.value  # not loaded again


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_vllm_without_the_extra_says_how_to_install() -> None:
    with pytest.raises(HippoError, match=r"pip install 'hippo-rag\[vllm\]'"):
        make_llm("vllm:Qwen/Qwen2.5-0.5B-Instruct").generate([ASK])


def _gpu() -> bool:
    if importlib.util.find_spec("vllm") is None or importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


@pytest.mark.skipif(not _gpu(), reason="vLLM in-process needs the [vllm] extra and a CUDA GPU")
def test_vllm_in_process_guided_json() -> None:
    llm = make_llm("vllm:Qwen/Qwen2.5-0.5B-Instruct", gpu_memory_utilization=0.3, max_model_len=2048)
    (text,) = llm.generate([ASK], FILTER_SCHEMA, max_tokens=32)
    assert isinstance(json.loads(text)["relevant"], list)
    overflow, fine = llm.generate_each([[{"role": "user", "content": "word " * 4000}], ASK], max_tokens=4)
    assert isinstance(overflow, LLMRequestError) and isinstance(fine, str)
