"""`hippo mcp`: the index as an MCP server on stdio, for agents."""

from __future__ import annotations

from pathlib import Path

import click

from hippo.cli.options import index_option, llm_options, resolve_index
from hippo.errors import HippoError
from hippo.pipeline import DEFAULT_PIPELINE, load_pipeline


@click.command("mcp")
@index_option
@click.option("--pipeline", default=DEFAULT_PIPELINE, show_default=True,
              help="Pipeline for tool calls that name none.")
@llm_options
def mcp_command(index_dir: Path | None, pipeline: str, llm: str | None, llm_model: str | None) -> None:
    """Serve the index over the Model Context Protocol on stdin/stdout, with the tools
    retrieve, ask, add_documents and add_session (see the README for a client config)."""
    try:
        from hippo.mcp_server import build_server
    except ImportError as err:
        raise HippoError(f"hippo mcp needs the serve extra ({err.name} is missing): "
                         "pip install 'hippo-rag[serve]'") from None
    from hippo.api import Hippo

    load_pipeline(pipeline)  # a bad --pipeline is refused at start
    build_server(Hippo(resolve_index(index_dir), llm=llm, llm_model=llm_model), pipeline).run("stdio")
