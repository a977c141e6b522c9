"""`hippo neo4j push|guide` and `hippo ask --explain --neo4j` against a real Neo4j 5 server."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from neo4j.exceptions import SessionExpired

from hippo.cli import main
from hippo.errors import HippoError
from hippo.indexer import Indexer
from hippo.neo4j import Neo4jConfig, graph_counts, push_index, write_query_trace
from hippo.neo4j.guide import GUIDE_QUERIES, example_params
from hippo.stats import index_stats
from hippo.store import IndexStore
from tests.neo4j_fixtures import REPO, SERVER_STATE, Neo4jServer, running_server

pytestmark = pytest.mark.neo4j
QUESTION = "Who designed the lighthouse in the town where Ada Brennan was born?"


@pytest.fixture(scope="session")
def server() -> Iterator[Neo4jServer]:
    yield from running_server()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("neo4j") / "corpus"
    shutil.copytree(REPO / "data" / "sample", target)
    return target


@pytest.fixture(scope="module")
def index(corpus: Path) -> Path:
    index_dir = corpus.parent / "index"
    Indexer(index_dir, quiet=True).run([corpus])
    return index_dir


@pytest.fixture
def pushed(server: Neo4jServer, index: Path) -> Path:
    """The sample index pushed into an emptied database."""
    server.clear()
    push_index(index, server.config, quiet=True)
    return index


def _cli(server: Neo4jServer, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=server.env())


def _expected_counts(index: Path) -> dict[str, int]:
    """What `hippo stats` (and the store, for CONTAINS) says the graph holds."""
    stats = index_stats(index)
    with IndexStore.open(index) as store:
        contains = len(store.passage_documents())
    return {
        "Document": stats["documents"], "Passage": stats["passages"], "Entity": stats["entities"],
        "CONTAINS": contains, "MENTIONS": stats["mention_edges"], "FACT": stats["facts"],
        "SYNONYM": stats["synonymy_edges"],
    }


def test_push_counts_equal_stats(server: Neo4jServer, index: Path) -> None:
    server.clear()
    result = _cli(server, "neo4j", "push", "--index", str(index))
    assert result.exit_code == 0, result.output
    expected = _expected_counts(index)
    assert graph_counts(server.config) == expected
    assert f"{sum(expected.values())} written, 0 unchanged" in result.output
    [total] = server.query("MATCH (n) RETURN count(n) AS n")
    assert total["n"] == expected["Document"] + expected["Passage"] + expected["Entity"]
    fact = server.query("MATCH (:Entity)-[f:FACT]->(:Entity) RETURN f LIMIT 1")[0]["f"]
    assert fact["relation"] and fact["passages"]
    assert all(0.0 < r["s"] <= 1.0 for r in server.query("MATCH ()-[r:SYNONYM]->() RETURN r.similarity AS s"))


def test_repush_writes_nothing(server: Neo4jServer, pushed: Path) -> None:
    before = server.query("MATCH (n) RETURN elementId(n) AS id ORDER BY id")
    report = push_index(pushed, server.config, quiet=True)
    assert report.written == 0 and report.elements == sum(_expected_counts(pushed).values())
    assert server.query("MATCH (n) RETURN elementId(n) AS id ORDER BY id") == before
    assert graph_counts(server.config) == _expected_counts(pushed)


def test_incremental_index_pushes_only_the_change(server: Neo4jServer, pushed: Path, corpus: Path) -> None:
    index = corpus.parent / "index-incremental"
    shutil.copytree(pushed, index)
    edited = corpus / "korvan-history.txt"
    edited.write_text(edited.read_text() + "\nIn 1931 Helga Korvan founded the Brightwater Rowing Club.\n")
    removed = corpus / "travel-notes.md"
    removed.unlink()
    Indexer(index, quiet=True).run([corpus])

    report = push_index(index, server.config, quiet=True)
    assert graph_counts(server.config) == _expected_counts(index)
    assert report.counts["Document"].deleted == 1 and report.counts["Passage"].created >= 1
    assert 0 < report.written < report.elements
    assert not server.query("MATCH (d:Document {id: $id}) RETURN d", id=str(removed.resolve()))
    assert server.query("MATCH (p:Passage) WHERE p.text CONTAINS 'Brightwater' RETURN p")
    assert push_index(index, server.config, quiet=True).written == 0


@pytest.mark.parametrize(("interruption", "raised"), [
    (KeyboardInterrupt, KeyboardInterrupt),
    (lambda: SessionExpired("server went away"), HippoError),
])
def test_interrupted_push_is_completed_by_the_next(
    server: Neo4jServer, index: Path, interruption: Callable[[], BaseException], raised: type[BaseException],
) -> None:
    server.clear()
    batches = 0

    def interrupt_after_three() -> None:
        nonlocal batches
        batches += 1
        if batches == 3:
            raise interruption()

    with pytest.raises(raised):
        push_index(index, server.config, quiet=True, batch_rows=10, after_batch=interrupt_after_three)
    partial = sum(graph_counts(server.config).values())
    report = push_index(index, server.config, quiet=True)
    assert 0 < partial < report.elements and report.written == report.elements - partial
    assert graph_counts(server.config) == _expected_counts(index)


def test_query_trace_links_seeds_and_ranked_passages(server: Neo4jServer, pushed: Path) -> None:
    with IndexStore.open(pushed) as store:
        seeds = dict.fromkeys(sorted(store.entities())[:2], 0.5)
        hits = [(p.id, rank, 1.0 / rank) for rank, p in enumerate(store.passages()[:3], 1)]
    write_query_trace(server.config, "why?", seeds, hits)
    write_query_trace(server.config, "why?", seeds, hits[:2])  # asking again replaces the trace
    rows = server.query(
        "MATCH (q:Query {text: 'why?'})-[r]->(n) RETURN type(r) AS t, r.weight AS w, r.rank AS rank, "
        "r.score AS score, n.id AS id ORDER BY t, rank"
    )
    assert [(r["t"], r["id"], r["rank"], r["score"]) for r in rows if r["t"] == "RETRIEVED"] == [
        ("RETRIEVED", pid, rank, score) for pid, rank, score in hits[:2]
    ]
    assert {r["id"]: r["w"] for r in rows if r["t"] == "SEED"} == seeds
    with pytest.raises(HippoError, match="hippo neo4j push"):
        write_query_trace(server.config, "why?", {"no-such-entity": 1.0}, [])
    assert len(server.query("MATCH (:Query {text: 'why?'})-[r]->() RETURN r")) == 4


def test_ask_explain_neo4j_writes_the_query_subgraph(server: Neo4jServer, pushed: Path) -> None:
    result = _cli(server, "ask", QUESTION, "--index", str(pushed), "--retrieve-only", "--explain", "--neo4j")
    assert result.exit_code == 0, result.output
    rows = server.query(
        "MATCH (q:Query {text: $text})-[r]->(n) RETURN type(r) AS t, r.rank AS rank, r.score AS score, "
        "r.weight AS weight", text=QUESTION,
    )
    ranks = sorted(r["rank"] for r in rows if r["t"] == "RETRIEVED")
    assert ranks == list(range(1, 6))
    assert all(r["score"] is not None for r in rows if r["t"] == "RETRIEVED")
    assert any(r["t"] == "SEED" and r["weight"] > 0 for r in rows)


def test_every_guide_query_returns_rows(server: Neo4jServer, pushed: Path) -> None:
    with IndexStore.open(pushed) as store:
        seeds = dict.fromkeys(sorted(store.entities())[:3], 0.1)
        passage = store.passages()[0].id
    write_query_trace(server.config, QUESTION, seeds, [(passage, 1, 0.9)])
    params = example_params(pushed)
    assert params["source"] != params["target"]
    for query in GUIDE_QUERIES:
        assert server.query(query.cypher, **params), query.title
    printed = _cli(server, "neo4j", "guide", "--index", str(pushed)).output
    assert all(query.cypher in printed for query in GUIDE_QUERIES)
    assert f'entity: "{params["entity"]}"' in printed and "/browser/" in printed


def test_dirty_index_is_refused(server: Neo4jServer, index: Path, tmp_path: Path) -> None:
    dirty = tmp_path / "index"
    shutil.copytree(index, dirty)
    with IndexStore.open(dirty, write=True) as store:
        store.mark_dirty(True)
    with pytest.raises(HippoError, match="re-run `hippo index`"):
        push_index(dirty, server.config, quiet=True)


@pytest.mark.parametrize(("override", "option"), [
    ({"NEO4J_PASSWORD": "wrong-password"}, "--user/--password"),
    ({"NEO4J_URI": "bolt://127.0.0.1:9"}, "--uri"),
    ({"NEO4J_URI": "http://127.0.0.1:7474"}, "--uri"),
    ({"NEO4J_DATABASE": "nosuchdb"}, "--database"),
])
def test_bad_connection_settings_are_one_line_errors(
    server: Neo4jServer, index: Path, override: dict[str, str], option: str
) -> None:
    result = CliRunner().invoke(main, ["neo4j", "push", "--index", str(index), "-q"], env=server.env() | override)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {option}"), result.output


def test_config_from_env_prefers_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEO4J_URI", "bolt://example:1")
    monkeypatch.setenv("NEO4J_PASSWORD", "secret-pw")
    monkeypatch.delenv("NEO4J_DATABASE", raising=False)
    config = Neo4jConfig.from_env(user="alice")
    assert config == Neo4jConfig("bolt://example:1", "alice", "secret-pw", None)
    assert Neo4jConfig.from_env(uri="bolt://other:2").uri == "bolt://other:2"


def test_server_password_is_on_no_command_line(server: Neo4jServer) -> None:
    password = server.config.password
    assert password
    shown = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:  # the process ended meanwhile
            continue
        if any(password.encode() in arg for arg in args):
            shown.append(b" ".join(args)[:200].decode(errors="replace"))
    assert shown == [], "the Neo4j password is visible to `ps`"
    assert (SERVER_STATE / "server" / "env").stat().st_mode & 0o077 == 0  # where `status` reads it: owner only


def test_ask_memorag_writes_its_clues_as_clue_nodes(server: Neo4jServer, pushed: Path) -> None:
    question = QUESTION  # two hops: the graph clue names the bridge, Dunmore
    for _ in range(2):  # asking again replaces the clues
        result = _cli(server, "ask", question, "--index", str(pushed), "--retrieve-only", "--explain", "--neo4j",
                      "--pipeline", "memorag")
        assert result.exit_code == 0, result.output
    rows = server.query(
        "MATCH (:Query {text: $text})-[:CLUE]->(c:Clue) OPTIONAL MATCH (c)-[r:RETRIEVED]->(p:Passage) "
        "RETURN c.text AS text, c.source AS source, r.rank AS rank, p.title AS title ORDER BY rank", text=question,
    )
    dunmore = [r for r in rows if r["text"] == "Who designed the lighthouse in the town where Dunmore was born?"]
    assert dunmore[0]["source"].startswith("graph: ") and dunmore[0]["title"] == "Dunmore"
    assert [r["rank"] for r in dunmore] == [1, 2, 3] and len({r["text"] for r in rows}) <= 2
