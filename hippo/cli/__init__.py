"""The `hippo` command line: thin click commands over the Python API."""

from __future__ import annotations

import sys

import click

from hippo.cli.ask import ask_command
from hippo.cli.cache import cache_group
from hippo.cli.eval import bench_command, eval_command
from hippo.cli.export import export_command
from hippo.cli.index import index_command, stats_command
from hippo.cli.mcp import mcp_command
from hippo.cli.neo4j import neo4j_group
from hippo.cli.serve import serve_command
from hippo.errors import HippoError

COMMANDS: list[click.Command] = [index_command, stats_command, ask_command, eval_command, bench_command, neo4j_group,
                               cache_group, export_command, serve_command, mcp_command]


class _FriendlyGroup(click.Group):
    """Prints HippoError as one line (exit 2) and Ctrl-C as a short note (exit 130)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except HippoError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted; committed work is kept and a re-run resumes", err=True)
            sys.exit(130)


@click.group(cls=_FriendlyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hippo-rag")
def main() -> None:
    """hippo: graph-based retrieval (HippoRAG 2 style), offline by default."""


for _command in COMMANDS:
    main.add_command(_command)
