"""The `hippo` command line: thin click commands over the Python API."""

from __future__ import annotations

import importlib
import sys

import click

from hippo.errors import HippoError

# Each command's module and attribute, imported only when the command runs (or help lists it):
# importing `hippo.cli` stays light, and so does every OpenIE worker spawned from the `hippo`
# console script, which re-imports the script and with it this module.
COMMANDS: dict[str, str] = {
    "index": "hippo.cli.index:index_command", "stats": "hippo.cli.index:stats_command",
    "ask": "hippo.cli.ask:ask_command", "eval": "hippo.cli.eval:eval_command",
    "bench": "hippo.cli.eval:bench_command", "neo4j": "hippo.cli.neo4j:neo4j_group",
    "cache": "hippo.cli.cache:cache_group", "export": "hippo.cli.export:export_command",
    "serve": "hippo.cli.serve:serve_command", "mcp": "hippo.cli.mcp:mcp_command",
}


class _FriendlyGroup(click.Group):
    """Loads its commands on first use; prints HippoError as one line (exit 2) and Ctrl-C as a
    short note (exit 130)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

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
