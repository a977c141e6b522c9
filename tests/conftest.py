"""Shared fixtures: the sample corpus indexed once per test session with the real models."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
SAMPLE_QUESTIONS = REPO / "data" / "sample_questions.jsonl"
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only-by-convention index of data/sample (copy it before changing it)."""
    from hippo.indexer import Indexer

    index_dir = tmp_path_factory.mktemp("sample") / "index"
    Indexer(index_dir, quiet=True).run([SAMPLE])
    return index_dir


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A private copy of data/sample that a test may edit."""
    target = tmp_path / "corpus"
    shutil.copytree(SAMPLE, target)
    return target


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or a skip where it is absent (as in a user's clone)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data not present (a user's clone); benchmark data tests skipped")
    return SHARED_DATA


@pytest.fixture
def http_attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every HTTP request an httpx client hands to the network during the test, as "METHOD URL"
    (each retry counts; a refused connection counts too)."""
    sent: list[str] = []
    handle = httpx.HTTPTransport.handle_request

    def counting(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url}")
        return handle(self, request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", counting)
    return sent
