"""The HTTP API of `hippo serve`: one `Hippo` per process (models and index loaded once, the
index's newest snapshot picked up as it appears), queries micro-batched, writes one at a time.

Every error is JSON `{"error": "..."}` with a status code; a stack trace only reaches the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict
from functools import partial
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.exceptions import HTTPException

from hippo import __version__
from hippo.api import READ_TOP_K, Hippo
from hippo.errors import HippoError, IndexFormatError, UnknownDocumentError
from hippo.indexer import memory_document_ids
from hippo.pipeline import DEFAULT_TOP_K, available_pipelines, load_pipeline
from hippo.serve.batcher import Batcher
from hippo.serve.guard import Guard
from hippo.snapshot import current_generation
from hippo.stats import index_stats

log = logging.getLogger("hippo.serve")

MAX_TOP_K = 100
DEFAULT_MAX_BODY = 16 * 1024 * 1024


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Query(_Body):
    """A question for /retrieve or /ask."""

    question: str = Field(min_length=1, max_length=10_000)
    top_k: int | None = Field(default=None, ge=1, le=MAX_TOP_K, description="passages to return (and read)")
    pipeline: str | None = Field(default=None, description="a pipeline name; default: the server's --pipeline")

    @field_validator("question")
    @classmethod
    def _not_blank(cls, question: str) -> str:
        if not question.strip():
            raise ValueError("the question is empty; ask something")
        return question


class Document(_Body):
    """An in-memory document: one passage."""

    title: str = ""
    text: str = Field(min_length=1)


class Turn(_Body):
    """One turn of a conversation session."""

    speaker: str
    text: str
    id: str | None = None


class Session(_Body):
    """One session of a conversation, as `Hippo.add_session` takes it."""

    conversation: str = Field(min_length=1)
    session: str | int
    turns: list[Turn] = Field(min_length=1)
    date: str = ""


class IndexRequest(_Body):
    """Documents and/or conversation sessions to add to the index."""

    documents: list[Document] = []
    sessions: list[Session] = []

    @model_validator(mode="after")
    def _not_empty(self) -> IndexRequest:
        if not self.documents and not self.sessions:
            raise ValueError('nothing to index; give "documents" and/or "sessions"')
        return self


def create_app(hippo: Hippo, pipeline: str, *, api_key: str | None = None,
               max_body: int = DEFAULT_MAX_BODY) -> FastAPI:
    """The FastAPI app over `hippo`, answering with pipeline `pipeline` unless a request names
    another; with `api_key` every request needs `Authorization: Bearer <api_key>`."""
    load_pipeline(pipeline)  # a bad --pipeline is refused at start
    batcher = Batcher(lambda key, questions: _run_batch(hippo, key, questions))
    writer = ThreadPoolExecutor(1, thread_name_prefix="hippo-index")  # one write at a time

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        try:
            await batcher.submit(("retrieve", pipeline, 1), "warm up")  # load the models now, not on a request
        except HippoError as err:
            log.warning("the index cannot answer yet (%s); POST /index adds documents", err)
        yield
        await batcher.stop()
        writer.shutdown(wait=True)

    app = FastAPI(title="hippo", summary="Graph-based retrieval (HippoRAG 2 style) over one index.",
                  version=__version__, lifespan=lifespan)
    app.add_middleware(Guard, api_key=api_key, max_body=max_body)
    _add_error_handlers(app)

    known = set(available_pipelines())  # listed once, not on every query

    async def query(kind: Literal["retrieve", "ask"], body: Query, top_k: int) -> JSONResponse:
        name = body.pipeline or pipeline
        if name not in known:
            known.update(available_pipelines())  # a pipeline file added since the server started
            if name not in known:
                return _error(404, f"unknown pipeline {name!r}; available: {', '.join(sorted(known))}")
        return JSONResponse(await batcher.submit((kind, name, body.top_k or top_k), body.question))

    @app.post("/retrieve", summary="Ranked passages for a question (no reader)")
    async def retrieve(body: Query) -> JSONResponse:
        return await query("retrieve", body, DEFAULT_TOP_K)

    @app.post("/ask", summary="A cited answer: the JSON of `hippo ask --json`")
    async def ask(body: Query) -> JSONResponse:
        return await query("ask", body, READ_TOP_K)

    async def write(job: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(writer, job, *args)

    @app.post("/index", summary="Add documents and/or sessions (their ids come back); answered once committed")
    async def index(body: IndexRequest) -> JSONResponse:
        documents = [d.model_dump() for d in body.documents]
        sessions = [(s.conversation, s.session, [t.model_dump(exclude_none=True) for t in s.turns], s.date)
                    for s in body.sessions]
        ids = memory_document_ids(documents) + [hippo.session_document_id(*session) for session in sessions]
        reports = [asdict(await write(partial(hippo.index, documents, replace=False)))] if documents else []
        for session in sessions:
            reports.append(asdict(await write(hippo.add_session, *session)))
        return JSONResponse({"documents": ids, "reports": reports})

    @app.delete("/documents/{document_id:path}", summary="Remove a document by the id /index returned")
    async def delete(document_id: str) -> JSONResponse:
        report = await write(hippo.delete, [document_id])
        return JSONResponse({"deleted": document_id, "report": asdict(report)})

    @app.get("/stats", summary="The index's figures: the JSON of `hippo stats --json`")
    def stats() -> JSONResponse:
        return JSONResponse(index_stats(hippo.index_dir))

    @app.get("/health", summary="Liveness and the snapshot queries read")
    def health() -> JSONResponse:
        return JSONResponse({"status": "ok", "index": str(hippo.index_dir), "pipeline": pipeline,
                             "snapshot": current_generation(hippo.index_dir)})

    return app


def _run_batch(hippo: Hippo, key: tuple[str, str, int], questions: list[str]) -> list[dict[str, Any]]:
    kind, pipeline, top_k = key
    hippo.refresh()  # a snapshot another process wrote is answered from
    if kind == "ask":
        return [a.to_dict() for a in hippo.ask_many(questions, pipeline, top_k)]
    return [r.to_dict() for r in hippo.retrieve_many(questions, pipeline, top_k)]


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HippoError)
    async def hippo_error(_: Request, err: HippoError) -> JSONResponse:
        status = 404 if isinstance(err, UnknownDocumentError) else 409 if isinstance(err, IndexFormatError) else 400
        return _error(status, str(err))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        if "json" not in request.headers.get("content-type", "json"):  # a browser form cannot post JSON
            return _error(415, "send the body as JSON with the header `Content-Type: application/json`")
        problems = err.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            return _error(400, "the body is not valid JSON")
        return _error(422, "; ".join(f"{'.'.join(str(x) for x in p.get('loc', ()))}: {p.get('msg')}"
                                     for p in problems))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, err: HTTPException) -> JSONResponse:
        return _error(err.status_code, str(err.detail))

    @app.exception_handler(Exception)
    async def crash(_: Request, err: Exception) -> JSONResponse:  # the server log gets the traceback
        return _error(500, f"internal error ({type(err).__name__}); the server log has the details")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
