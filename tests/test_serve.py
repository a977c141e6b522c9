"""`hippo serve` over real HTTP on 127.0.0.1: every endpoint, the API key, the limits and
JSON errors, writes while queries run, a snapshot written by another process, a server killed
mid-index and restarted; the micro-batcher on its own."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from hippo.api import Hippo, RetrievedPassage
from hippo.errors import HippoError, UnknownDocumentError
from hippo.serve.batcher import Batcher
from hippo.stats import index_stats
from hippo.store import IndexStore, writer_active
from tests.conftest import REPO
from tests.llm_server import free_port
from tests.serve_server import ThreadServer

KEY = "test-key-1234"
AUTH = {"Authorization": f"Bearer {KEY}"}
QUESTION = "Who trained the engineer who designed the Marlow Viaduct?"
MAX_BODY = 64 * 1024


def _copy(sample_index: Path, target: Path) -> Path:
    shutil.copytree(sample_index, target)
    return target


@pytest.fixture(scope="module")
def server(sample_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A server with an API key and a small body limit on a copy of the sample index."""
    from hippo.serve.app import create_app

    index = _copy(sample_index, tmp_path_factory.mktemp("served") / "index")
    app = create_app(Hippo(index), "hipporag2", api_key=KEY, max_body=MAX_BODY)
    with ThreadServer(app) as running:
        yield running.url, index


@pytest.fixture
def http(server: tuple[str, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0], headers=AUTH, timeout=120) as client:
        yield client


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    message = response.json()["error"]
    assert isinstance(message, str) and message
    return message


def test_the_api_key_is_required_and_compared(server: tuple[str, Path]) -> None:
    url = server[0]
    assert "API key" in _error(httpx.get(f"{url}/health"), 401)
    assert "API key" in _error(httpx.get(f"{url}/stats", headers={"Authorization": "Bearer wrong"}), 401)
    assert "API key" in _error(httpx.post(f"{url}/retrieve", json={"question": QUESTION}), 401)
    assert httpx.get(f"{url}/health", headers=AUTH).json()["status"] == "ok"


def test_health_stats_and_docs(http: httpx.Client, server: tuple[str, Path]) -> None:
    health = http.get("/health").json()
    assert health["index"] == str(server[1]) and health["snapshot"].startswith("snapshot-")
    stats = http.get("/stats").json()
    expected = index_stats(server[1])
    assert {k: v for k, v in stats.items() if k != "index_bytes"} == \
        {k: v for k, v in expected.items() if k != "index_bytes"}
    assert "swagger" in http.get("/docs").text.lower()
    assert {"/retrieve", "/ask", "/index", "/documents/{document_id}", "/stats", "/health"} <= \
        set(http.get("/openapi.json").json()["paths"])


def test_retrieve_and_ask_answer_what_the_python_api_does(http: httpx.Client, server: tuple[str, Path]) -> None:
    local = Hippo(server[1])
    retrieved = http.post("/retrieve", json={"question": QUESTION, "top_k": 3}).json()
    assert [p["id"] for p in retrieved["passages"]] == [p.id for p in local.retrieve(QUESTION, top_k=3).passages]
    dense = http.post("/retrieve", json={"question": QUESTION, "top_k": 2, "pipeline": "dense"}).json()
    assert [p["id"] for p in dense["passages"]] == [p.id for p in local.retrieve(QUESTION, "dense", 2).passages]

    answer = http.post("/ask", json={"question": QUESTION, "top_k": 3}).json()
    expected = local.ask(QUESTION, top_k=3).to_dict()  # what `hippo ask --json` prints
    assert list(answer) == list(expected)
    assert (answer["answer"], answer["citations"]) == (expected["answer"], expected["citations"])
    assert answer["passages"] == expected["passages"]

    with Hippo.remote(server[0], api_key=KEY) as remote:
        hits = remote.retrieve(QUESTION, top_k=3)
        assert all(type(p) is RetrievedPassage for p in hits.passages)
        assert hits.passages == local.retrieve(QUESTION, top_k=3).passages


def test_bad_requests_are_json_errors(http: httpx.Client) -> None:
    assert "JSON" in _error(http.post("/retrieve", content=b'{"question": ', headers={"Content-Type":
                                                                                        "application/json"}), 400)
    assert "Content-Type" in _error(http.post("/retrieve", data={"question": QUESTION}), 415)
    assert str(MAX_BODY) in _error(http.post("/retrieve", json={"question": "x" * MAX_BODY}), 413)
    assert "top_k" in _error(http.post("/retrieve", json={"question": QUESTION, "top_k": 1000}), 422)
    assert "empty" in _error(http.post("/ask", json={"question": "   "}), 422)
    assert "question" in _error(http.post("/retrieve", json={"top_k": 3}), 422)
    assert "hipporag2" in _error(http.post("/retrieve", json={"question": QUESTION, "pipeline": "nope"}), 404)
    assert "unknown pipeline" in _error(http.post("/ask", json={"question": QUESTION, "pipeline": "../x"}), 404)
    assert "nothing to index" in _error(http.post("/index", json={}), 422)
    assert "text" in _error(http.post("/index", json={"documents": [{"title": "t"}]}), 422)
    assert "no document" in _error(http.delete("/documents/memory:0000"), 404)
    _error(http.get("/nowhere"), 404)
    _error(http.get("/retrieve"), 405)


def test_documents_are_added_found_counted_and_deleted(http: httpx.Client, server: tuple[str, Path]) -> None:
    before = http.get("/stats").json()["documents"]
    added = http.post("/index", json={"documents": [
        {"title": "Orla Vance", "text": "Orla Vance is a clockmaker in Tamsworth who repairs tower clocks."},
        {"title": "Tamsworth", "text": "Tamsworth is a market town whose church clock Orla Vance restored."},
    ]}).json()
    assert len(added["documents"]) == 2 and added["reports"][0]["files_changed"] == 2
    assert http.get("/stats").json()["documents"] == before + 2
    hits = http.post("/retrieve", json={"question": "Who repairs tower clocks?", "top_k": 1}).json()
    assert hits["passages"][0]["title"] == "Orla Vance"

    for doc_id in added["documents"]:
        assert http.delete(f"/documents/{doc_id}").json()["report"]["files_removed"] == 1
    assert http.get("/stats").json()["documents"] == before
    hits = http.post("/retrieve", json={"question": "Who repairs tower clocks?", "top_k": 3}).json()
    assert "Orla Vance" not in {p["title"] for p in hits["passages"]}

    with Hippo.remote(server[0], api_key=KEY) as remote:
        with pytest.raises(UnknownDocumentError):
            remote.delete(["memory:0000"])
        with pytest.raises(HippoError, match="not paths"):
            remote.index(["data/sample"])  # type: ignore[list-item]


def test_indexing_while_querying_fails_no_query_and_loses_no_document(http: httpx.Client) -> None:
    before = http.get("/stats").json()["documents"]
    stop = threading.Event()

    def query(n: int) -> list[int]:
        codes = []
        with httpx.Client(base_url=str(http.base_url), headers=AUTH, timeout=120) as client:
            while not stop.is_set() or not codes:
                codes.append(client.post("/retrieve", json={"question": f"{QUESTION} {n}", "top_k": 3}).status_code)
        return codes

    with ThreadPoolExecutor(4) as pool:
        queries = [pool.submit(query, n) for n in range(4)]
        for batch in range(3):
            docs = [{"title": f"Ledger {batch}-{i}", "text": f"Ledger {batch}-{i} records the harbour toll of "
                     f"year {1800 + 10 * batch + i} in Dunmore."} for i in range(2)]
            assert http.post("/index", json={"documents": docs}).status_code == 200
        stop.set()
        codes = [code for future in queries for code in future.result()]
    assert codes and set(codes) == {200}
    assert http.get("/stats").json()["documents"] == before + 6


def test_a_snapshot_written_by_another_process_is_picked_up(http: httpx.Client, server: tuple[str, Path]) -> None:
    question = "Which lighthouse keeper kept bees on Farne Rock?"
    Hippo(server[1]).index([{"title": "Wren Tolley", "text": "Wren Tolley, the lighthouse keeper of Farne "
                             "Rock, kept bees on the island."}], replace=False)
    hits = http.post("/retrieve", json={"question": question, "top_k": 1}).json()
    assert hits["passages"][0]["title"] == "Wren Tolley"


def _serve(index: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HIPPO_API_KEY": KEY, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "hippo", "serve", "--index", str(index), "--port", str(port)],
                            cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/health", headers=AUTH, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server did not start: {log.read_text()}")


def test_a_server_killed_mid_index_restarts_usable_and_the_index_resumes(sample_index: Path, tmp_path: Path) -> None:
    index, log, port = _copy(sample_index, tmp_path / "index"), tmp_path / "serve.log", free_port()
    url = f"http://127.0.0.1:{port}"
    docs = [{"title": f"Vessel {i}", "text": f"The schooner Vessel {i} was built in Dunmore in {1800 + i} by the "
             f"shipwright Hale {i % 7}, and sailed to Leeds with {i * 3} tons of slate."} for i in range(120)]
    before = Hippo(index).context.snapshot.passage_ids
    process = _serve(index, port, log)
    try:
        _wait_ready(url, process, log)
        with ThreadPoolExecutor(1) as pool:
            posted = pool.submit(httpx.post, f"{url}/index", json={"documents": docs}, headers=AUTH, timeout=300)
            deadline = time.monotonic() + 60
            while _documents(index) <= 3 and time.monotonic() < deadline:  # some of them committed
                time.sleep(0.01)
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            with pytest.raises(httpx.TransportError):
                posted.result()
        assert not writer_active(index) and _documents(index) > 3
        assert "update interrupted" in index_stats(index)["state"]  # killed before the new graph was written
        process = _serve(index, port, log)
        _wait_ready(url, process, log)
        hits = httpx.post(f"{url}/retrieve", json={"question": QUESTION, "top_k": 3}, headers=AUTH, timeout=120)
        assert hits.status_code == 200 and hits.json()["passages"][0]["id"] in before
        resumed = httpx.post(f"{url}/index", json={"documents": docs}, headers=AUTH, timeout=300)
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["reports"][0]["files_unchanged"] > 0  # what was committed is not redone
        stats = httpx.get(f"{url}/stats", headers=AUTH).json()
        assert stats["documents"] == 3 + len(docs) and stats["up_to_date"], stats
        turns = [("Ann", "I booked the ferry to Skye for May 3."), ("Bo", "Great, I will rent bikes there.")]
        with Hippo.remote(url, api_key=KEY) as remote:  # sessions last: they make it a conversation index
            report = remote.add_session("trip", 1, turns, date="2023-04-01")
            assert report.files_changed == 1 and remote.stats()["sessions"] == 1
            session = {"conversation": "trip", "session": 1, "date": "2023-04-01",
                       "turns": [{"speaker": who, "text": text} for who, text in turns]}
            again = httpx.post(f"{url}/index", json={"sessions": [session]}, headers=AUTH, timeout=120).json()
            assert again["reports"][0]["files_unchanged"] == 1
            [session_id] = again["documents"]
            assert Path(session_id).is_file() and Path(session_id).is_relative_to(index.resolve())
            assert remote.delete([session_id]).files_removed == 1
            assert remote.stats()["sessions"] == 0 and not Path(session_id).exists()
    finally:
        process.kill()
        process.wait(30)


def _documents(index: Path) -> int:
    with IndexStore.open(index) as store:
        return store.counts()["documents"]


def test_binding_beyond_loopback_needs_an_api_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HIPPO_API_KEY"} | {"PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-m", "hippo", "serve", "--host", "0.0.0.0", "--index", str(tmp_path)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.startswith("error: --host 0.0.0.0") and run.stderr.count("\n") == 1, run.stderr


def test_the_batcher_runs_concurrent_questions_as_one_batch_and_a_bad_one_fails_alone() -> None:
    calls: list[tuple[Any, list[str]]] = []

    def run(key: Any, questions: list[str]) -> list[str]:
        calls.append((key, questions))
        if "bad" in questions:
            raise ValueError("bad question")
        return [f"{key}:{q}" for q in questions]

    async def main() -> list[Any]:
        batcher = Batcher(run, window=0.05)
        await batcher.start()
        try:
            jobs = [batcher.submit("a", f"q{i}") for i in range(5)] + [batcher.submit("b", "q"),
                                                                       batcher.submit("a", "bad")]
            return await asyncio.gather(*jobs, return_exceptions=True)
        finally:
            await batcher.stop()

    results = asyncio.run(main())
    assert results[:6] == [f"a:q{i}" for i in range(5)] + ["b:q"]
    assert isinstance(results[6], ValueError)
    assert calls[0] == ("a", ["q0", "q1", "q2", "q3", "q4", "bad"])  # one batch, then each alone
    assert ("b", ["q"]) in calls and len([c for c in calls if c[0] == "a"]) == 7
