"""`hippo index` and `hippo stats`."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import click

from hippo.api import Hippo
from hippo.cli.options import (
    encoder_option,
    index_option,
    json_option,
    llm_options,
    resolve_index,
    resolve_workers,
    workers_option,
)
from hippo.config import IndexSettings
from hippo.errors import HippoError
from hippo.extract import extractor_names
from hippo.memory.global_memory import MEMORY_MODES
from hippo.models import BUNDLED_EMBEDDING_MODEL
from hippo.stats import index_stats
from hippo.store import DB_NAME, IndexStore


@click.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@index_option
@click.option("--extractor", type=click.Choice(extractor_names()), default=None,
              help="OpenIE extractor for a new index (default: spacy; llm uses --llm).")
@llm_options
@click.option("--embedding-model", default=None, metavar="NAME|FOLDER",
              help="Sentence-transformers model for a new index: all-MiniLM-L6-v2 (bundled, default) "
                   "or a local model folder, e.g. a multilingual one.")
@click.option("--chunk-words", type=click.IntRange(min=10), default=None,
              help="Target passage size in words for .txt/.md files (default 120).")
@click.option("--chunk-overlap", type=click.IntRange(min=0), default=None,
              help="Sentences shared by neighbouring passages (default 1).")
@click.option("--synonymy-k", type=click.IntRange(min=0), default=None,
              help="Nearest entities considered for synonymy edges (default 10).")
@click.option("--synonymy-threshold", type=click.FloatRange(0.0, 1.0, min_open=True), default=None,
              help="Cosine similarity needed for a synonymy edge (default 0.8).")
@click.option("--title-edge-weight", type=click.FloatRange(0.0, min_open=True), default=None,
              help="Weight of the edge from a passage to its own title entity (default 10; others weigh 1).")
@click.option("--ann-threshold", type=click.IntRange(min=1), default=None,
              help="Passages, entities or facts past which a snapshot gets an approximate-nearest-neighbour "
                   "index that queries search instead of every vector (default 100000).")
@click.option("--memory", "global_memory", type=click.Choice(MEMORY_MODES), default=None,
              help="Global memory for the MemoRAG `clues` stage: extractive (default for a new index; no LLM), "
                   "gist (written by --llm) or none. Default: what the index has.")
@click.option("--document-memory/--no-document-memory", default=None,
              help="MemGAS memory units (sentences, keywords, association edges) for corpus documents too, not "
                   "only conversations; only the `memgas` pipeline reads them (default off for a new index).")
@encoder_option
@workers_option
@click.option("--ray", metavar="ADDRESS", default=None,
              help="Run OpenIE and embedding on a Ray cluster: HOST:PORT, auto (the cluster this machine "
                   "joined) or local (a new one here); needs the `ray` extra on every node.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars (warnings and the summary still print).")
@json_option
def index_command(
    paths: tuple[Path, ...], index_dir: Path | None, extractor: str | None, embedding_model: str | None,
    llm: str | None, llm_model: str | None, chunk_words: int | None,
    chunk_overlap: int | None, synonymy_k: int | None, synonymy_threshold: float | None,
    title_edge_weight: float | None, ann_threshold: int | None, global_memory: str | None,
    document_memory: bool | None, encoder: str | None, workers: int | None, ray: str | None, quiet: bool, as_json: bool,
) -> None:
    """Index PATHS (folders searched recursively for .txt .md .json .jsonl, or single files).

    Re-running is incremental: unchanged files are skipped, changed files re-extracted and
    files deleted from a folder removed from the index.
    """
    overrides = {k: v for k, v in {
        "extractor": extractor, "embedding_model": embedding_model if embedding_model is None
        else _embedding_model(embedding_model), "chunk_words": chunk_words, "chunk_overlap_sentences": chunk_overlap,
        "synonymy_k": synonymy_k, "synonymy_threshold": synonymy_threshold, "title_edge_weight": title_edge_weight,
        "ann_threshold": ann_threshold, "document_memory": document_memory,
    }.items() if v is not None}
    root = resolve_index(index_dir)
    hippo = Hippo(root, llm=llm, llm_model=llm_model, settings=_requested_settings(root, overrides),
                  quiet=quiet or as_json, workers=resolve_workers(workers), encoder=encoder, ray=ray)
    _warn_kept_encoder(root, encoder)
    report = hippo.index(list(paths), global_memory=global_memory)
    click.echo(json.dumps(asdict(report), indent=2) if as_json else report.summary())


_FLAGS = {"chunk_words": "--chunk-words", "chunk_overlap_sentences": "--chunk-overlap",
          "synonymy_k": "--synonymy-k", "synonymy_threshold": "--synonymy-threshold",
          "title_edge_weight": "--title-edge-weight", "ann_threshold": "--ann-threshold",
          "document_memory": "--document-memory"}


def _requested_settings(root: Path, overrides: dict[str, Any]) -> IndexSettings | None:
    """Settings for a new index from the options given. An existing index keeps the settings it
    was made with: a differing option gets a warning (--extractor and --embedding-model the
    store's refusal)."""
    if not overrides:
        return None
    if not (root / DB_NAME).exists():
        return IndexSettings(**overrides)
    with IndexStore.open(root) as store:
        built = store.settings
    for key, flag in _FLAGS.items():
        if key in overrides and overrides[key] != getattr(built, key):
            click.echo(f"warning: {flag} {overrides[key]} applies to a new index; {root} keeps "
                       f"{getattr(built, key)} (use a new --index to change it)", err=True)
    return replace(built, extractor=overrides.get("extractor", built.extractor),
                   embedding_model=overrides.get("embedding_model", built.embedding_model))


def _warn_kept_encoder(root: Path, encoder: str | None) -> None:
    """An existing index keeps embedding with the runtime it was built with."""
    if encoder is None or not (root / DB_NAME).exists():
        return
    with IndexStore.open(root) as store:
        built = store.settings.encoder
    if built != encoder:
        click.echo(f"warning: --encoder {encoder} applies to a new index; {root} keeps embedding with {built} "
                   "(use a new --index to change it)", err=True)


def _embedding_model(value: str) -> str:
    """The bundled model's name as given, or a local model folder as an absolute path (so the
    index finds it from any directory)."""
    if value == BUNDLED_EMBEDDING_MODEL:
        return value
    folder = Path(value).expanduser()
    if not value.strip() or not folder.is_dir():
        raise HippoError(f"--embedding-model {value}: no such folder; give a local sentence-transformers "
                         f"model folder or {BUNDLED_EMBEDDING_MODEL}")
    return str(folder.absolute())


@click.command("stats")
@index_option
@json_option
def stats_command(index_dir: Path | None, as_json: bool) -> None:
    """Counts of documents, passages, entities, facts and edges, and the models used."""
    stats = index_stats(resolve_index(index_dir))
    if as_json:
        click.echo(json.dumps(stats, indent=2))
        return
    width = max(len(k) for k in stats)
    for key, value in stats.items():
        click.echo(f"{key.replace('_', ' '):<{width}}  {value}")
