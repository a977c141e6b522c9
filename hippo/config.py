"""Typed settings for indexing and retrieval, with defaults that run offline, and the
environment variables hippo reads (all of them, here; the README lists them)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

DEFAULT_INDEX_DIR = Path(".hippo")
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
DEFAULT_EXTRACTOR = "spacy"
ENCODERS = ("onnx", "torch")  # runtimes of the embedding model (hippo.embed)
DEFAULT_ENCODER = "onnx"


@dataclass(frozen=True)
class IndexSettings:
    """How a corpus becomes an index. Recorded in the index at creation.

    `embedding_model` and `extractor` are fixed for an index's lifetime; the rest only
    affect how new documents are split and how the graph is rebuilt. `encoder` is the runtime
    the index embeds with and queries use by default (an index recorded before it existed was
    built with torch). `document_memory`: corpus documents get MemGAS memory units too, not only
    conversations (indexes recorded before it existed have them). `ann_threshold`: passages,
    entities or facts of a snapshot past this many get an approximate-nearest-neighbour index that
    queries search instead of every vector (`hippo.ann`).
    """

    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    extractor: str = DEFAULT_EXTRACTOR
    chunk_words: int = 120
    chunk_overlap_sentences: int = 1
    synonymy_k: int = 10
    synonymy_threshold: float = 0.8
    title_edge_weight: float = 10.0
    embed_batch_size: int = 128
    encoder: str = DEFAULT_ENCODER
    document_memory: bool = False
    ann_threshold: int = 100_000

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}")
        if self.chunk_words < 10:
            raise ValueError("chunk_words must be at least 10")
        if self.chunk_overlap_sentences < 0:
            raise ValueError("chunk_overlap_sentences must be >= 0")
        if self.synonymy_k < 0:
            raise ValueError("synonymy_k must be >= 0")
        if not 0.0 < self.synonymy_threshold <= 1.0:
            raise ValueError("synonymy_threshold must be in (0, 1]")
        if not self.title_edge_weight > 0:
            raise ValueError("title_edge_weight must be > 0")
        if self.ann_threshold < 1:
            raise ValueError("ann_threshold must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> IndexSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{"encoder": "torch", "document_memory": True, **{k: v for k, v in values.items() if k in known}})


@dataclass(frozen=True)
class EnvVar:
    """An environment variable hippo reads; `get()` reads it now (unset or empty is None)."""

    name: str
    meaning: str

    def get(self) -> str | None:
        """The variable's value, or None when it is unset or empty."""
        return os.environ.get(self.name) or None


HIPPO_INDEX = EnvVar("HIPPO_INDEX", "index directory when --index is not given (default ./.hippo)")
HIPPO_LLM = EnvVar("HIPPO_LLM", "the LLM when --llm is not given (default local)")
HIPPO_LLM_MODEL = EnvVar("HIPPO_LLM_MODEL", "the model at an OpenAI-compatible endpoint, like --llm-model")
HIPPO_LLM_API_KEY = EnvVar("HIPPO_LLM_API_KEY", "API key sent to an OpenAI-compatible endpoint")
OPENAI_API_KEY = EnvVar("OPENAI_API_KEY", "API key used when HIPPO_LLM_API_KEY is unset")
HIPPO_LLM_RUNTIME = EnvVar(
    "HIPPO_LLM_RUNTIME", "what runs --llm local: llama-cpp or transformers (default llama-cpp when installed)"
)
HIPPO_PIPELINES = EnvVar("HIPPO_PIPELINES", "':'-separated folders searched for pipeline NAME.toml files")
HIPPO_API_KEY = EnvVar("HIPPO_API_KEY", "API key `hippo serve` requires (`Authorization: Bearer KEY`), like --api-key")
NEO4J_URI = EnvVar("NEO4J_URI", "Bolt address of the Neo4j server (default bolt://127.0.0.1:7687)")
NEO4J_USER = EnvVar("NEO4J_USER", "Neo4j user (default neo4j)")
NEO4J_PASSWORD = EnvVar("NEO4J_PASSWORD", "Neo4j password")
NEO4J_DATABASE = EnvVar("NEO4J_DATABASE", "Neo4j database (default: the server's default)")
XDG_CACHE_HOME = EnvVar("XDG_CACHE_HOME", "where derived model files are kept, in hippo/: ONNX exports of embedding "
                                          "models, the dequantized local gguf (default ~/.cache)")
ENVIRONMENT = (HIPPO_INDEX, HIPPO_LLM, HIPPO_LLM_MODEL, HIPPO_LLM_RUNTIME, HIPPO_LLM_API_KEY, OPENAI_API_KEY,
               HIPPO_PIPELINES, HIPPO_API_KEY, NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD, NEO4J_DATABASE, XDG_CACHE_HOME)


def default_index_dir() -> Path:
    """The index directory: $HIPPO_INDEX, else ./.hippo."""
    return Path(HIPPO_INDEX.get() or DEFAULT_INDEX_DIR)


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
