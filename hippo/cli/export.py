"""`hippo export`: the retrieval graph as GraphML or GEXF (networkx, Gephi, yEd, Cytoscape)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hippo.cli.options import index_option, resolve_index
from hippo.export import FORMATS, index_to_networkx, write_graph


@click.command("export")
@index_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="File format (default: from the -o suffix, else graphml).")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="File to write (default: standard output).")
def export_command(index_dir: Path | None, fmt: str | None, output: Path | None) -> None:
    """Write the index's graph (passages, entities; fact, mention and synonym edges) as a file.

    Node attributes kind/name/title, edge attributes kind/weight/relation; node ids are the
    index's passage and entity ids.
    """
    suffix = output.suffix.lstrip(".").lower() if output else ""
    fmt = fmt or (suffix if suffix in FORMATS else "graphml")
    graph = index_to_networkx(resolve_index(index_dir))
    write_graph(graph, output if output else sys.stdout.buffer, fmt)
    if output:
        click.echo(f"wrote {graph.number_of_nodes()} nodes and {graph.number_of_edges()} edges to {output} ({fmt})",
                   err=True)
