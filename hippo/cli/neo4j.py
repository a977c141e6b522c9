"""`hippo neo4j push` and `hippo neo4j guide`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from hippo.cli.options import index_option, json_option, quiet_option, resolve_index
from hippo.neo4j import Neo4jConfig, push_index
from hippo.neo4j.guide import example_params, render_guide

_uri_option = click.option("--uri", default=None, help="Bolt address (default: $NEO4J_URI or bolt://127.0.0.1:7687).")
_user_option = click.option("--user", default=None, help="User name (default: $NEO4J_USER or neo4j).")
_password_option = click.option("--password", default=None, help="Password (default: $NEO4J_PASSWORD).")
_database_option = click.option(
    "--database", default=None, help="Database (default: $NEO4J_DATABASE or the server's default)."
)


@click.group("neo4j")
def neo4j_group() -> None:
    """Explore the graph in Neo4j: push an index, print Browser queries."""


@neo4j_group.command("push")
@index_option
@_uri_option
@_user_option
@_password_option
@_database_option
@quiet_option
@json_option
def push_command(
    index_dir: Path | None, uri: str | None, user: str | None, password: str | None,
    database: str | None, quiet: bool, as_json: bool,
) -> None:
    """Mirror the index's graph into a Neo4j database.

    Entities, facts, passages, documents, mentions and synonymy. Writes only what changed
    since the last push and removes what the index no longer has; an interrupted push is
    completed by the next one.
    """
    config = Neo4jConfig.from_env(uri, user, password, database)
    report = push_index(resolve_index(index_dir), config, quiet=quiet or as_json)
    if as_json:
        click.echo(json.dumps({"uri": report.uri, "seconds": report.seconds,
                               "counts": {k: asdict(c) for k, c in report.counts.items()}}, indent=2))
    elif not quiet:
        click.echo(report.summary())


@neo4j_group.command("guide")
@index_option
@_uri_option
@_user_option
def guide_command(index_dir: Path | None, uri: str | None, user: str | None) -> None:
    """Print Cypher to paste into the Neo4j Browser.

    Example names in the queries come from the index."""
    config = Neo4jConfig.from_env(uri, user)
    click.echo(render_guide(config, example_params(resolve_index(index_dir))))
