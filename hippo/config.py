"""Typed settings for indexing and retrieval, with defaults that run offline."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

DEFAULT_INDEX_DIR = Path(".hippo")
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
DEFAULT_EXTRACTOR = "spacy"


@dataclass(frozen=True)
class IndexSettings:
    """How a corpus becomes an index. Recorded in the index at creation.

    `embedding_model` and `extractor` are fixed for an index's lifetime; the rest only
    affect how new documents are split and how the graph is rebuilt.
    """

    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    extractor: str = DEFAULT_EXTRACTOR
    chunk_words: int = 120
    chunk_overlap_sentences: int = 1
    synonymy_k: int = 10
    synonymy_threshold: float = 0.8
    title_edge_weight: float = 10.0
    embed_batch_size: int = 128

    def __post_init__(self) -> None:
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> IndexSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def default_index_dir() -> Path:
    """The index directory: $HIPPO_INDEX, else ./.hippo."""
    return Path(os.environ.get("HIPPO_INDEX", str(DEFAULT_INDEX_DIR)))


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
