"""`hippo ask`: one question, or a JSONL file of them, through a retrieval pipeline."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import click

from hippo.api import Answer, Hippo
from hippo.cli.options import encoder_option, index_option, json_option, llm_options, resolve_index
from hippo.errors import HippoError
from hippo.pipeline import DEFAULT_PIPELINE


@click.command("ask")
@click.argument("question", required=False)
@index_option
@click.option("--pipeline", default=DEFAULT_PIPELINE, show_default=True,
              help="Pipeline name (pipelines/NAME.toml) or path to a .toml spec.")
@click.option("--top-k", type=click.IntRange(min=1), default=5, show_default=True,
              help="Passages to return; the reader reads exactly these.")
@click.option("--retrieve-only", is_flag=True, help="Skip the reader; return ranked passages only.")
@click.option("--queries", type=click.Path(path_type=Path, dir_okay=False),
              help='JSONL file of {"id", "question"} lines; prints one JSON result per line with --json.')
@click.option("--explain", is_flag=True, help="Show linked facts/entities, PPR seeds and top graph nodes.")
@click.option("--neo4j", "to_neo4j", is_flag=True,
              help="With --explain: write the question's seeds and passages to Neo4j (NEO4J_* env).")
@llm_options
@encoder_option
@json_option
def ask_command(
    question: str | None, index_dir: Path | None, pipeline: str, top_k: int, retrieve_only: bool,
    queries: Path | None, explain: bool, to_neo4j: bool, llm: str | None, llm_model: str | None,
    encoder: str | None, as_json: bool,
) -> None:
    """Answer QUESTION from the index, citing the passages it used."""
    if (question is None) == (queries is None):
        raise HippoError("give a QUESTION or --queries FILE.jsonl (not both)")
    hippo = Hippo(resolve_index(index_dir), llm=llm, llm_model=llm_model, encoder=encoder)
    ids, questions = ([None], [question]) if question is not None else _read_queries(queries)  # type: ignore[arg-type]
    if retrieve_only:
        results = [Answer(r.question, r.passages, r.trace, note="--retrieve-only: reader skipped")
                   for r in hippo.retrieve_many(questions, pipeline, top_k)]
    else:
        results = hippo.ask_many(questions, pipeline, top_k)
    if to_neo4j:
        _write_neo4j(hippo, results)
    for qid, result in zip(ids, results, strict=True):
        if as_json:
            payload = result.to_dict() if explain or queries is None else _without_trace(result.to_dict())
            click.echo(json.dumps({"id": qid, **payload} if qid is not None else payload, ensure_ascii=False))
        else:
            _print_human(result, explain)


def _read_queries(path: Path) -> tuple[list[Any], list[str]]:
    ids: list[Any] = []
    questions: list[str] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise HippoError(f"--queries {path}: cannot read ({err}); give a UTF-8 JSONL file") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            questions.append(str(record["question"]))
        except (json.JSONDecodeError, KeyError, TypeError):
            raise HippoError(f'--queries {path}: line {number} is not {{"id", "question"}} JSON') from None
        ids.append(record.get("id", number))
    if not questions:
        raise HippoError(f"--queries {path}: no questions in the file")
    return ids, questions


def _without_trace(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != "trace"}


def _print_human(result: Answer, explain: bool) -> None:
    if result.answer is not None:
        click.echo(f"Answer: {result.answer}\n")
    elif result.note:
        click.echo(f"({result.note})\n", err=True)
    for number, passage in enumerate(result.passages, 1):
        cited = "*" if number in result.citations else " "
        click.echo(f"{cited}[{number}] {passage.title}  (score {passage.score:.4g})")
        click.echo(textwrap.indent(textwrap.shorten(passage.text, 300), "    "))
    if explain:
        click.echo("\nExplain:")
        for entry in result.trace:
            _print_trace_entry(entry)


def _print_trace_entry(entry: dict[str, Any]) -> None:
    click.echo(f"  {entry['stage']} ({entry['seconds'] * 1000:.1f} ms)")
    for key, value in entry.items():
        if key in ("stage", "seconds"):
            continue
        if isinstance(value, list) and value and isinstance(value[0], dict):
            click.echo(f"    {key}:")
            for item in value:
                click.echo(f"      - {_inline(item)}")
        elif isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            click.echo(f"    {key}:")
            for name, item in value.items():
                click.echo(f"      - {name}: {_inline(item)}")
        elif isinstance(value, dict) and value:
            click.echo(f"    {key}: {_inline(value)}")
        else:
            click.echo(f"    {key}: {value}")


def _inline(mapping: dict[str, Any]) -> str:
    """k=v, k=v (a nested mapping in parentheses, a nested list of mappings in brackets)."""
    return ", ".join(f"{k}={_inline_value(v)}" for k, v in mapping.items())


def _inline_value(value: Any) -> str:
    if isinstance(value, dict):
        return f"({_inline(value)})"
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return "[" + "; ".join(_inline(item) for item in value) + "]"
    return str(value)


def _write_neo4j(hippo: Hippo, results: list[Answer]) -> None:
    from hippo.neo4j import Neo4jConfig, write_query_trace
    from hippo.neo4j.trace import Clue

    config = Neo4jConfig.from_env()
    snapshot = hippo.context.snapshot
    name_to_id = {name: snapshot.entity_ids[i] for name, i in snapshot.entity_index.items()}
    for result in results:
        ppr = next((t for t in reversed(result.trace) if t["stage"] == "ppr"), {})  # the last round's
        seeds = {name_to_id[n]: w for n, w in ppr.get("seeds", {}).items() if n in name_to_id}
        ranked = [(p.id, rank, p.score) for rank, p in enumerate(result.passages, 1)]
        clues = [Clue(c["text"], c["weight"], c["source"],
                      [(hit["id"], rank, hit["score"]) for rank, hit in enumerate(c["retrieved"], 1)])
                 for t in result.trace if t["stage"] == "clues" for c in t["clues"]]
        write_query_trace(config, result.question, seeds, ranked, clues)
