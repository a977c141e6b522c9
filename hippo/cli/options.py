"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from hippo.config import DEFAULT_ENCODER, HIPPO_LLM, HIPPO_LLM_MODEL, default_index_dir, usable_cores

index_option = click.option(
    "--index", "index_dir", type=click.Path(path_type=Path), default=None,
    help="Index directory (default: $HIPPO_INDEX or ./.hippo).",
)
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bars or summaries.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


encoder_option = click.option(
    "--encoder", default=None, metavar="onnx|torch",
    help=f"Embedding runtime: onnx (int8 ONNX Runtime) or torch (sentence-transformers); for a new index "
         f"(default {DEFAULT_ENCODER}) and for queries (default: the one the index was built with).",
)
workers_option = click.option(
    "--workers", type=click.IntRange(min=1), default=None,
    help="Processes for spaCy OpenIE on runs of 1000+ passages (default: the CPU cores).",
)


def resolve_workers(workers: int | None) -> int:
    """The --workers value, else the cores this process may use."""
    return workers or usable_cores()


def resolve_index(index_dir: Path | None) -> Path:
    """The --index value, else the default index directory."""
    return index_dir if index_dir is not None else default_index_dir()


def llm_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Adds --llm and --llm-model (also read from HIPPO_LLM / HIPPO_LLM_MODEL)."""
    command = click.option(
        "--llm-model", envvar=HIPPO_LLM_MODEL.name, default=None,
        help="Model name at an OpenAI-compatible endpoint (default: the first one it lists).",
    )(command)
    return click.option(
        "--llm", envvar=HIPPO_LLM.name, default=None,
        help="LLM: 'local' (bundled SmolLM2), http://HOST:PORT/v1 (OpenAI-compatible) or vllm:MODEL.",
    )(command)
