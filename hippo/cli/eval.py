"""`hippo eval` (Recall@k, EM, F1 on a HippoRAG-format dataset) and `hippo bench` (speed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from hippo.api import Hippo
from hippo.bench import format_bench, run_bench, sample_queries
from hippo.cli.options import (
    encoder_option,
    index_option,
    llm_options,
    quiet_option,
    resolve_index,
    resolve_workers,
    workers_option,
)
from hippo.config import IndexSettings
from hippo.datasets import load_corpus, load_questions
from hippo.errors import HippoError
from hippo.evaluate import describe_counts, evaluate, format_table
from hippo.locomo import is_locomo_file
from hippo.pipeline import load_pipeline
from hippo.progress import progress_bar
from hippo.stats import index_stats
from hippo.store import DB_NAME, IndexStore

DEFAULT_PIPELINES = "hipporag2,dense"
EVAL_INDEX_ROOT = Path(".hippo-eval")

_file = click.Path(exists=True, dir_okay=False, path_type=Path)
pipelines_option = click.option(
    "--pipelines", default=DEFAULT_PIPELINES, show_default=True, help="Comma-separated pipeline names or TOML paths."
)
json_file_option = click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Also write the results to this JSON file.",
)


@click.command("eval")
@click.option("--dataset", type=_file, required=True, help="Question file (HippoRAG format, JSON or JSON Lines).")
@click.option("--corpus", type=click.Path(exists=True, path_type=Path), default=None,
              help='Corpus file of {"title", "text"} records (or a folder, as for `hippo index`); '
                   "not for a LoCoMo --dataset, which holds its conversations.")
@pipelines_option
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N questions.")
@click.option("--index", "index_dir", type=click.Path(path_type=Path), default=None,
              help="Index directory (default: .hippo-eval/<corpus file name>; for LoCoMo the folder of the "
                   "per-conversation indexes, default .hippo-eval/<dataset name>); reused when it exists.")
@llm_options
@encoder_option
@json_file_option
@workers_option
@quiet_option
def eval_command(
    dataset: Path, corpus: Path | None, pipelines: str, limit: int | None, index_dir: Path | None, llm: str | None,
    llm_model: str | None, encoder: str | None, json_path: Path | None, workers: int | None, quiet: bool,
) -> None:
    """Recall@1/2/5/10 of the gold passages (and EM/F1 with --llm) per pipeline; on a LoCoMo
    --dataset, session recall_any/recall_all/NDCG@1/3/5/10 and turn recall per category.

    Indexes --corpus (incrementally, so an existing index is reused), then runs every
    question of --dataset through each pipeline. --json also holds one row per question.
    """
    names = _pipeline_names(pipelines)
    if is_locomo_file(dataset):
        from hippo.cli.eval_conversations import run_conversation_eval

        _write_json(json_path, run_conversation_eval(dataset, names, limit, index_dir, llm, llm_model, quiet,
                                                            encoder))
        return
    if corpus is None:
        raise HippoError(f"--corpus is required with --dataset {dataset.name}: the passages its questions are about")
    questions = load_questions(dataset)[:limit]
    index_dir = index_dir or EVAL_INDEX_ROOT / corpus.stem
    gold = load_corpus(corpus, _settings(index_dir))
    hippo = _indexed(Hippo(index_dir, llm=llm, llm_model=llm_model, quiet=quiet, workers=resolve_workers(workers),
                           encoder=encoder), corpus, quiet)
    held = index_stats(hippo.index_dir)["passages"]
    if held != len(gold.passages) and not quiet:
        click.echo(f"note: {hippo.index_dir} holds {held} passages, {corpus} {len(gold.passages)}; "
                   "retrieval ranks all of them", err=True)
    with progress_bar(len(questions) * len(names), "evaluating", "question", quiet) as bar:
        report = evaluate(hippo, questions, gold, names, read=llm is not None, progress=bar.update)
    click.echo(f"{dataset.name}: {len(questions)} questions, corpus {corpus.name} ({len(gold.passages)} passages)")
    click.echo(format_table(report))
    for line in describe_counts(report.counts):
        click.echo(f"note: {line}")
    if llm is None:
        click.echo("EM/F1 need a reader: pass --llm")
    _write_json(json_path, {"dataset": str(dataset), "corpus": str(corpus), **report.to_json()})


@click.command("bench")
@index_option
@click.option("--corpus", type=click.Path(exists=True, path_type=Path), default=None,
              help="Index this corpus first and time each stage (use a fresh --index for full throughput).")
@click.option("--dataset", type=_file, default=None,
              help="Take query texts from this question file (default: passage titles from the index).")
@click.option("--queries", type=click.IntRange(min=1), default=50, show_default=True, help="Queries per pipeline.")
@pipelines_option
@encoder_option
@json_file_option
@workers_option
@quiet_option
def bench_command(
    index_dir: Path | None, corpus: Path | None, dataset: Path | None, queries: int, pipelines: str,
    encoder: str | None, json_path: Path | None, workers: int | None, quiet: bool,
) -> None:
    """Indexing passages/s per stage, warm query latency p50/p95 and PPR time per pipeline,
    peak RSS and index size on disk."""
    names = _pipeline_names(pipelines)
    root = resolve_index(index_dir)
    hippo = Hippo(root, quiet=quiet, workers=resolve_workers(workers), encoder=encoder)
    given = [q.question for q in load_questions(dataset)[:queries]] if dataset else []
    index_report = hippo.index([corpus]) if corpus else None
    texts = given or sample_queries(root, queries)
    if not texts:
        raise HippoError(f"{root}: no passages to take queries from; index a corpus first or pass --dataset")
    progress = None if quiet else (lambda name: click.echo(f"timing queries: {name}", err=True))
    report = run_bench(hippo, root, texts, names, index_report, progress=progress)
    click.echo(format_bench(report))
    _write_json(json_path, report.to_json())


def _pipeline_names(pipelines: str) -> list[str]:
    """The --pipelines list, each checked to load before any slow work starts."""
    names = [n.strip() for n in pipelines.split(",") if n.strip()]
    if not names:
        raise HippoError("--pipelines is empty; name at least one pipeline, e.g. hipporag2,dense")
    for name in names:
        load_pipeline(name)
    return names


def _settings(index_dir: Path) -> IndexSettings:
    """The existing index's settings (they decide how text files are cut), else the defaults."""
    if not (index_dir / DB_NAME).exists():
        return IndexSettings()
    with IndexStore.open(index_dir) as store:
        return store.settings


def _indexed(hippo: Hippo, corpus: Path, quiet: bool) -> Hippo:
    report = hippo.index([corpus])
    if not quiet:
        click.echo(f"index {hippo.index_dir}: {report.summary()}", err=True)
    return hippo


def _write_json(path: Path | None, document: dict[str, Any]) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as err:
        raise HippoError(f"{path}: cannot write the results ({err.strerror}); choose another --json path") from None
