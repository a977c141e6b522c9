"""`hippo serve`: the HTTP API on uvicorn."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import click

from hippo.cli.options import index_option, llm_options, resolve_index
from hippo.config import HIPPO_API_KEY
from hippo.errors import HippoError
from hippo.pipeline import DEFAULT_PIPELINE

DEFAULT_PORT = 8750


@click.command("serve")
@index_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; any but a loopback one needs an API key.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True, help="TCP port.")
@click.option("--pipeline", default=DEFAULT_PIPELINE, show_default=True,
              help="Pipeline for requests that name none (a request may name another).")
@click.option("--api-key", envvar=HIPPO_API_KEY.name, default=None,
              help="Require `Authorization: Bearer KEY` on every request (also $HIPPO_API_KEY).")
@click.option("--max-body-mb", type=click.FloatRange(0, min_open=True), default=16, show_default=True,
              help="Largest request body accepted, in MiB.")
@llm_options
def serve_command(index_dir: Path | None, host: str, port: int, pipeline: str, api_key: str | None,
                  max_body_mb: float, llm: str | None, llm_model: str | None) -> None:
    """Serve the index over HTTP: POST /retrieve /ask /index, DELETE /documents/ID, GET /stats
    /health, OpenAPI docs at /docs. Models and index load once; new snapshots are picked up."""
    if not api_key and not is_loopback(host):
        raise HippoError(f"--host {host} is reachable from other machines; set --api-key or $HIPPO_API_KEY "
                         "(then every request needs `Authorization: Bearer KEY`), or bind 127.0.0.1")
    try:
        import uvicorn

        from hippo.serve.app import create_app
    except ImportError as err:
        raise HippoError(f"hippo serve needs the serve extra ({err.name} is missing): "
                         "pip install 'hippo-rag[serve]'") from None
    from hippo.api import Hippo

    root = resolve_index(index_dir)
    app = create_app(Hippo(root, llm=llm, llm_model=llm_model), pipeline, api_key=api_key,
                     max_body=int(max_body_mb * 1024 * 1024))
    click.echo(f"hippo serve: http://{host}:{port} (index {root}, pipeline {pipeline}"
               f"{', API key required' if api_key else ''}); docs at /docs", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address (127.0.0.0/8, ::1) or `localhost`."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
