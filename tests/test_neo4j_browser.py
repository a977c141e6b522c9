"""The Neo4j Browser that scripts/neo4j-server serves loads in headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from collections.abc import Iterator

import pytest

from tests.neo4j_fixtures import Neo4jServer, running_server

pytestmark = pytest.mark.neo4j
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.fixture(scope="session")
def browser_server() -> Iterator[Neo4jServer]:
    yield from running_server()


def test_browser_loads_in_headless_chromium(browser_server: Neo4jServer) -> None:
    if CHROMIUM is None:
        pytest.skip("no Chromium on PATH (apt-get install chromium); Browser load test skipped")
    url = browser_server.browser_url
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            served = response.status == 200
    except OSError:
        served = False
    if not url or not served:
        pytest.skip(f"the server does not serve the Browser at {url or '(unknown address)'}")
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=15000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert "Connect to Neo4j" in dom and 'data-testid="boltaddress"' in dom
