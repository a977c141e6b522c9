"""A real Neo4j server for the Neo4j tests: the one `scripts/neo4j-server` runs, started
here (on free ports) when it is not running and stopped at the end only if started here.

The tests clear that server's database: do not point them at a server holding data you keep.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import neo4j
import pytest

from hippo.neo4j import Neo4jConfig

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "neo4j-server"
SERVER_STATE = Path(os.environ.get("HIPPO_NEO4J_HOME", REPO / ".neo4j"))  # the script's state folder


@dataclass(frozen=True)
class Neo4jServer:
    """Where the test server listens."""

    config: Neo4jConfig
    browser_url: str

    def env(self) -> dict[str, str]:
        """NEO4J_* variables pointing at this server."""
        return {"NEO4J_URI": self.config.uri, "NEO4J_USER": self.config.user,
                "NEO4J_PASSWORD": self.config.password or ""}

    def clear(self) -> None:
        """Deletes every node and relationship."""
        with self.driver() as driver, driver.session() as session:
            session.run("MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS").consume()

    def driver(self) -> neo4j.Driver:
        return neo4j.GraphDatabase.driver(
            self.config.uri, auth=(self.config.user, self.config.password or ""),
            notifications_min_severity="OFF",
        )

    def query(self, cypher: str, **params: object) -> list[neo4j.Record]:
        with self.driver() as driver:
            return driver.execute_query(cypher, params).records


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=900, check=False)


def _server_from(result: subprocess.CompletedProcess[str]) -> Neo4jServer:
    values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    browser = re.search(r"Browser at (\S+)", result.stderr)
    config = Neo4jConfig(uri=values["NEO4J_URI"], user=values["NEO4J_USER"], password=values["NEO4J_PASSWORD"])
    return Neo4jServer(config, browser.group(1) if browser else "")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unavailable(reason: str) -> NoReturn:
    """Skips the test for want of `reason`, or fails it where $CI is set (CI must run it)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


def running_server() -> Iterator[Neo4jServer]:
    """Generator for a session fixture: yields the server, stops it after if it started it."""
    status = _script("status")
    if status.returncode in (0, 4):  # running, or being started by someone else: theirs to stop
        yield _server_from(status if status.returncode == 0 else _script("start"))
        return
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} not found: the Neo4j tests need Java 17 and Maven for scripts/neo4j-server")
    started = _script("start", "--bolt-port", str(_free_port()), "--http-port", str(_free_port()))
    if started.returncode != 0:
        pytest.fail(f"scripts/neo4j-server start failed:\n{started.stderr[-3000:]}")
    try:
        yield _server_from(started)
    finally:
        _script("stop")
