"""`hippo cache stats|clear`: the LLM response cache of an index."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from hippo.cli.options import index_option, json_option, resolve_index
from hippo.errors import HippoError
from hippo.llm.cache import ResponseCache, default_cache_path

cache_path_option = click.option(
    "--cache", "cache_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
    help="Cache file (default: llm_cache.sqlite in the index directory).",
)


@click.group("cache")
def cache_group() -> None:
    """The on-disk LLM response cache (re-running with unchanged inputs makes no LLM calls)."""


@cache_group.command("stats")
@index_option
@cache_path_option
@json_option
def cache_stats_command(index_dir: Path | None, cache_path: Path | None, as_json: bool) -> None:
    """Entries, size on disk and entries per backend:model."""
    stats = _open(index_dir, cache_path).stats()
    if as_json:
        click.echo(json.dumps(asdict(stats), indent=2))
        return
    click.echo(f"cache    {stats.path}\nentries  {stats.entries}\nbytes    {stats.bytes}")
    for model, count in stats.models.items():
        click.echo(f"  {count:>7}  {model}")


@cache_group.command("clear")
@index_option
@cache_path_option
def cache_clear_command(index_dir: Path | None, cache_path: Path | None) -> None:
    """Deletes every cached response."""
    cache = _open(index_dir, cache_path)
    click.echo(f"removed {cache.clear()} cached responses from {cache.path}")


def _open(index_dir: Path | None, cache_path: Path | None) -> ResponseCache:
    path = cache_path or default_cache_path(resolve_index(index_dir))
    if not path.is_file():
        raise HippoError(f"{path}: no LLM cache here; pass the --index (or --cache FILE) an LLM command used")
    return ResponseCache(path)
