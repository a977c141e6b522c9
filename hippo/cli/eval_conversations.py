"""`hippo eval` on a LoCoMo file: one index per conversation, session- and turn-level metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from hippo.conversation_eval import (
    PerConversationIndexes,
    evaluate_conversations,
    format_conversation_table,
    index_root_default,
)
from hippo.locomo import locomo_questions, read_locomo
from hippo.progress import progress_bar


def run_conversation_eval(
    dataset: Path, pipelines: list[str], limit: int | None, index_root: Path | None, llm: str | None,
    llm_model: str | None, quiet: bool, encoder: str | None = None,
) -> dict[str, Any]:
    """Indexes each conversation of the LoCoMo `dataset`, scores `pipelines`, prints the
    tables and returns the `--json` document."""
    samples = read_locomo(dataset)
    questions = locomo_questions(samples)[:limit]
    wanted = {q.conversation for q in questions}
    root = index_root or index_root_default(dataset)
    indexes = PerConversationIndexes(root, [s for s in samples if str(s["sample_id"]) in wanted], llm=llm,
                                     llm_model=llm_model, quiet=quiet, encoder=encoder)
    note = None if quiet else (lambda name: click.echo(f"indexing {name} into {root / name}", err=True))
    seconds = indexes.index(note)
    with progress_bar(len(questions) * len(pipelines), "evaluating", "question", quiet) as bar:
        report = evaluate_conversations(indexes, questions, pipelines, read=llm is not None, progress=bar.update)
    counts = report.counts
    click.echo(f"{dataset.name}: {counts['questions']} questions ({counts['with_evidence']} with evidence, "
               f"{counts['adversarial']} adversarial) over {len(wanted)} conversations, one index each under {root}")
    click.echo(format_conversation_table(report))
    if llm is None:
        click.echo("F1 needs a reader: pass --llm")
    return {"dataset": str(dataset), "index_seconds_per_session": seconds, **report.to_json()}
