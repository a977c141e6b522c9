"""vLLM in-process (`--llm vllm:MODEL`): batched chat with guided JSON on a GPU machine.

Needs the `[vllm]` extra and a CUDA GPU; both are checked up front with a clear message.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from hippo.errors import HippoError
from hippo.llm.base import LLMRequestError, LLMUnavailable, Request, Result


class VLLMBackend:
    """Chat completions from a vLLM engine loaded in this process."""

    kind = "vllm"

    def __init__(self, model: str, **engine_options: Any) -> None:
        try:
            vllm = importlib.import_module("vllm")  # before torch: a missing vLLM fails fast
        except ImportError as err:
            raise HippoError(
                f"--llm vllm:{model} needs vLLM ({err}); run `pip install 'hippo-rag[vllm]'` on a GPU machine "
                "or use --llm http://HOST:PORT/v1"
            ) from None
        import torch  # a vLLM dependency

        if not torch.cuda.is_available():
            raise HippoError(f"--llm vllm:{model} needs a CUDA GPU and none is visible; use --llm local or a URL")
        self._model = model
        self._vllm = vllm
        try:
            self._engine = vllm.LLM(model=model, seed=0, **engine_options)
        except (OSError, ValueError, RuntimeError) as err:
            raise LLMUnavailable(f"--llm vllm:{model}: vLLM cannot load it ({err})") from None

    @property
    def model(self) -> str:
        """The model name or path given after `vllm:`."""
        return self._model

    def complete(self, requests: Sequence[Request]) -> list[Result]:
        """One batched engine call; if vLLM rejects the batch (a prompt too long), each alone."""
        try:
            return self._run(requests)
        except ValueError:
            results: list[Result] = []
            for request in requests:
                try:
                    results.extend(self._run([request]))
                except ValueError as err:
                    results.append(LLMRequestError(f"--llm vllm:{self._model}: {err}"))
            return results

    def _run(self, requests: Sequence[Request]) -> list[Result]:
        outputs = self._engine.chat(
            [r.message_dicts() for r in requests], [self._sampling(r) for r in requests], use_tqdm=False,
        )
        return [o.outputs[0].text if o.outputs else LLMRequestError("vLLM returned no output") for o in outputs]

    def _sampling(self, request: Request) -> Any:
        options: dict[str, Any] = {
            "max_tokens": request.max_tokens, "temperature": request.temperature, "seed": request.seed,
        }
        schema = request.schema_dict()
        if schema is not None:
            params = self._vllm.sampling_params
            if hasattr(params, "StructuredOutputsParams"):  # vLLM >= 0.11
                options["structured_outputs"] = params.StructuredOutputsParams(json=schema)
            else:
                options["guided_decoding"] = params.GuidedDecodingParams(json=schema)
        return self._vllm.SamplingParams(**options)
