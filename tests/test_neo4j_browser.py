"""The Neo4j Browser that scripts/neo4j-server serves, driven in headless Chromium: connect with
the server's credentials, run `hippo neo4j guide`'s entity-neighbourhood query and its latest
`:Query` subgraph query, and check the graph each result frame draws against the database.
Screenshots of both frames are saved in the test's tmp dir; the paths are printed (`pytest -rP`
shows them) and named in any failure."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import neo4j.graph
import pytest
from click.testing import CliRunner

from hippo.cli import main
from tests.neo4j_fixtures import Neo4jServer, running_server, unavailable

pytestmark = pytest.mark.neo4j
QUESTION = "Who trained the engineer who designed the Marlow Viaduct?"
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
CHROMEDRIVER = shutil.which("chromedriver")
WAIT_S = 90  # a generous ceiling for page loads and query results, not a timing assertion


@pytest.fixture(scope="session")
def browser_server() -> Iterator[Neo4jServer]:
    yield from running_server()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium under Selenium with Debian's chromium-driver."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed (pip install -e '.[dev]'); Browser test skipped")
    if CHROMIUM is None or CHROMEDRIVER is None:
        unavailable("no chromium/chromedriver on PATH (apt-get install chromium chromium-driver); Browser test skipped")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def guide(browser_server: Neo4jServer, sample_index: Path, tmp_path: Path) -> dict[str, str]:
    """The sample index pushed into an emptied database and QUESTION asked with --explain --neo4j;
    returns `hippo neo4j guide`'s `:params` line ("params") and its queries by number ("1".."5")."""
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    browser_server.clear()
    for args in (["neo4j", "push", "--index", str(index), "-q"],
                 ["ask", QUESTION, "--index", str(index), "--retrieve-only", "--explain", "--neo4j"]):
        result = CliRunner().invoke(main, args, env=browser_server.env())
        assert result.exit_code == 0, result.output
    printed = CliRunner().invoke(main, ["neo4j", "guide", "--index", str(index)], env=browser_server.env()).output
    found = {"params": next(line for line in printed.splitlines() if line.startswith(":params "))}
    for block in printed.split("\n\n"):
        query = re.match(r"// (\d+)\. [^\n]*\n(.*)", block, re.S)
        if query:
            found[query.group(1)] = " ".join(query.group(2).split()).rstrip(";")  # one line: Enter runs it
    return found


class BrowserPage:
    """The Neo4j Browser's connect form, editor and result frames."""

    def __init__(self, driver: Any, url: str) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver = driver
        self.wait = WebDriverWait(driver, WAIT_S)
        driver.get(url)
        self.wait.until(lambda d: d.find_elements(*self._css('[data-testid="boltaddress"]')))

    @staticmethod
    def _css(selector: str) -> tuple[str, str]:
        from selenium.webdriver.common.by import By

        return By.CSS_SELECTOR, selector

    def _find(self, selector: str) -> Any:
        return self.driver.find_element(*self._css(selector))

    def connect(self, uri: str, user: str, password: str) -> None:
        from selenium.webdriver.common.keys import Keys

        scheme, address = uri.split("://", 1)
        self._choose(self._find('[data-testid="bolt-scheme-select"]'), f"{scheme}://")
        for field, value in (("boltaddress", address), ("username", user), ("password", password)):
            element = self._find(f'[data-testid="{field}"]')
            element.send_keys(Keys.CONTROL, "a")  # replaces a prefilled value (clear() bypasses React)
            element.send_keys(Keys.DELETE, value)
        self._find('[data-testid="connect"]').click()
        self.wait.until(lambda d: "You are connected as user" in self._find('[data-testid="stream"]').text)

    def _choose(self, element: Any, text: str) -> None:
        """Picks the option shown as `text`: sets the value the way React listens for it (Chromium
        156's driver no longer clicks options of a native drop-down)."""
        from selenium.webdriver.support.ui import Select

        select = Select(element)
        options = {o.get_attribute("textContent").strip(): o.get_attribute("value") for o in select.options}
        assert text in options, f"the drop-down offers {sorted(options)}, not {text}"
        self.driver.execute_script(
            "const setter = Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set;"
            "setter.call(arguments[0], arguments[1]);"
            "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
            element, options[text])
        assert select.first_selected_option.get_attribute("textContent").strip() == text

    def run(self, command: str) -> Any:
        """Types `command` into the editor, runs it and returns its result frame once drawn."""
        self._find('[data-testid="activeEditor"] textarea').send_keys(command)
        self._find('[data-testid="editor-Run"]').click()
        return self.wait.until(lambda d: self._finished_frame(command))

    def _finished_frame(self, command: str) -> Any:
        for frame in self.driver.find_elements(*self._css('[data-testid="frame"]')):
            label = frame.find_elements(*self._css('[data-testid="frameCommand"]'))
            if label and label[0].text.strip() == command:
                text = frame.text
                done = "Displaying" in text or "ERROR" in text or command.startswith(":")
                return frame if done else None
        return None


def _expected_graph(server: Neo4jServer, cypher: str, params: dict[str, str]) -> tuple[set[str], Counter[str]]:
    """The nodes a query returns (directly, or as relationship ends): ids and label counts."""
    nodes: dict[str, neo4j.graph.Node] = {}
    for record in server.query(cypher, **params):
        for value in record.values():
            found = [value] if isinstance(value, neo4j.graph.Node) else []
            if isinstance(value, neo4j.graph.Relationship):
                found = [value.start_node, value.end_node]
            nodes.update((n.element_id, n) for n in found if n is not None)
    return set(nodes), Counter(label for n in nodes.values() for label in n.labels)


def _params(line: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+): "([^"]*)"', line))


def test_browser_draws_the_guide_queries_from_the_database(
    browser_server: Neo4jServer, browser: Any, guide: dict[str, str], tmp_path: Path
) -> None:
    if not browser_server.browser_url:
        unavailable("scripts/neo4j-server did not say where it serves the Browser")
    page = BrowserPage(browser, browser_server.browser_url)
    config = browser_server.config
    try:
        page.connect(config.uri, config.user, config.password or "")
        page.run(guide["params"])
    finally:
        browser.save_screenshot(str(tmp_path / "neo4j-browser-connected.png"))
        print(f"Neo4j Browser screenshot: {tmp_path / 'neo4j-browser-connected.png'}")
    params = _params(guide["params"])
    [top] = browser_server.query("MATCH (:Query {text: $q})-[:RETRIEVED {rank: 1}]->(p) RETURN p.title AS t",
                                 q=QUESTION)
    for number, what, caption in (("2", "neighbourhood", params["entity"]), ("5", "latest-query", top["t"])):
        frame = page.run(guide[number])
        shot = tmp_path / f"neo4j-browser-{what}.png"
        frame.screenshot(str(shot))
        print(f"Neo4j Browser screenshot: {shot}")
        nodes, labels = _expected_graph(browser_server, guide[number], params)
        text = frame.text
        assert nodes and f"Displaying {len(nodes)} nodes" in text, f"{what}: see {shot}"
        for label, count in labels.items():
            assert f"{label} ({count})" in text, f"{what}: {label} count; see {shot}"
        drawn = frame.find_elements("css selector", "svg g.node")
        assert len(drawn) == len(nodes), f"{what}: drawn nodes; see {shot}"
        captions = " ".join(node.text for node in drawn).replace("\n", " ")
        assert caption.lower() in captions.lower(), f"{what}: no node captioned {caption!r}; see {shot}"
    assert labels["Query"] == 1 and labels["Entity"] >= 1 and labels["Passage"] >= 1
