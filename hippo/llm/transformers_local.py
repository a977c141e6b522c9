"""The bundled SmolLM2 gguf in-process through transformers: the local reader that needs no build.

transformers reads a .gguf file and dequantizes it onto the torch that sentence-transformers
installs anyway, so a fresh `pip install` runs the reader without compiling llama.cpp. JSON
schemas are enforced token by token with xgrammar (vLLM's grammar engine). llama.cpp
(`pip install 'hippo-rag[llamacpp]'`) is faster and is used instead when it is installed.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

from hippo.llm.base import LLMRequestError, LLMUnavailable, Request, Result
from hippo.llm.gguf_local import REPEAT_PENALTY, GgufBackend
from hippo.model_cache import cached_entry, file_key


class TransformersBackend(GgufBackend):
    """Chat completions from a local .gguf file with transformers, one request at a time."""

    kind = "transformers"

    def __init__(self, model_path: Path, *, n_ctx: int = 4096, n_threads: int | None = None) -> None:
        """Loads `model_path` (dequantized to float32: ~0.6 GB for the 135M model, cached on disk); prompts
        longer than `n_ctx` tokens fail, as they would in llama.cpp; `n_threads` caps torch's
        threads while generating (None: torch's own setting)."""
        super().__init__(model_path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self._tokenizer, self._model = _load(self.path)
        self._grammars: Any = None  # xgrammar's compiler, made at the first schema (it caches compiled schemas)

    def _complete_one(self, request: Request) -> Result:
        import torch

        prompt = self._tokenizer.apply_chat_template(
            request.message_dicts(), add_generation_prompt=True, return_tensors="pt", return_dict=True,
        )
        prompt_tokens = int(prompt["input_ids"].shape[1])
        room = self.n_ctx - prompt_tokens
        if room <= 0:
            return LLMRequestError(
                f"--llm local: requested tokens ({prompt_tokens}) exceed context window of {self.n_ctx}"
            )
        sampling: dict[str, Any] = {"do_sample": False}
        if request.temperature > 0:
            torch.manual_seed(request.seed)
            sampling = {"do_sample": True, "temperature": request.temperature, "top_k": 0}
        processors = [self._json_processor(request.schema)] if request.schema is not None else []
        threads = torch.get_num_threads()
        torch.set_num_threads(self.n_threads or threads)
        try:
            with torch.inference_mode():
                output = self._model.generate(
                    **prompt, max_new_tokens=min(request.max_tokens, room), repetition_penalty=REPEAT_PENALTY,
                    logits_processor=processors, pad_token_id=self._tokenizer.eos_token_id, **sampling,
                )
        finally:
            torch.set_num_threads(threads)
        text = self._tokenizer.decode(output[0, prompt_tokens:], skip_special_tokens=True)
        return text if text.strip() else LLMRequestError("--llm local: empty completion")

    def _json_processor(self, schema: str) -> Any:
        """A fresh xgrammar logits processor (one per generate call) for the JSON schema text."""
        import xgrammar

        if self._grammars is None:
            info = xgrammar.TokenizerInfo.from_huggingface(self._tokenizer, vocab_size=self._model.config.vocab_size)
            self._grammars = xgrammar.GrammarCompiler(info)
        # compact JSON (no free whitespace): the 135M model otherwise spends its tokens on indentation
        return xgrammar.contrib.hf.LogitsProcessor(self._grammars.compile_json_schema(schema, any_whitespace=False))


def _load(path: Path) -> tuple[Any, Any]:
    """The tokenizer (with the gguf's chat template) and the dequantized model, from the cache
    (a conversion of ~20 s the first time, then a load of about a second)."""
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    key = file_key(path, salt=f"transformers {transformers.__version__}")
    entry = cached_entry("gguf", path.stem, key, lambda folder: _convert(path, folder),
                         "set HIPPO_LLM_RUNTIME=llama-cpp")
    tokenizer = transformers.AutoTokenizer.from_pretrained(entry)
    model = transformers.AutoModelForCausalLM.from_pretrained(entry)
    model.eval()
    return tokenizer, model


def _convert(path: Path, folder: Path) -> None:
    """Reads the gguf (transformers parses it in Python: slow) and saves it as safetensors."""
    import transformers

    try:
        with contextlib.redirect_stderr(io.StringIO()):  # its dequantizing progress bar ignores the settings
            tokenizer = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
            model = transformers.AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        raise LLMUnavailable(f"--llm-model {path}: transformers cannot load it ({err})") from None
    # the weights are plain float32 now; only the gguf marks keep save_pretrained from writing them
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
