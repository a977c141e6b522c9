"""Micro-batching: questions that arrive within a few milliseconds of each other run as one
batched pipeline call (one batched PPR) on a single worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

BatchRunner = Callable[[Any, list[str]], list[Any]]


class Batcher:
    """Collects submitted questions for `window` seconds after the first one arrives (or
    while the previous batch runs), groups them by key (what they must share to run together,
    e.g. pipeline and top_k) and hands each group to `run(key, questions)` on one thread.

    When a group fails, its questions are retried one by one, so a bad question fails alone.
    """

    def __init__(self, run: BatchRunner, window: float = 0.004, max_batch: int = 64) -> None:
        self._run = run
        self.window = window
        self.max_batch = max_batch
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="hippo-query")
        self._queue: asyncio.Queue[tuple[Hashable, str, asyncio.Future[Any]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Starts the collecting loop on the running event loop."""
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stops the loop and the worker thread (a batch in flight finishes first)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.executor.shutdown(wait=True)

    async def submit(self, key: Hashable, question: str) -> Any:
        """The result of `run(key, [question, ...])` for this question."""
        if self._queue is None:
            raise RuntimeError("Batcher.start() was not called")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put((key, question, future))
        return await future

    async def _loop(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            await asyncio.sleep(self.window)
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            groups: dict[Hashable, list[tuple[str, asyncio.Future[Any]]]] = {}
            for key, question, future in batch:
                if not future.cancelled():  # the client went away
                    groups.setdefault(key, []).append((question, future))
            for key, items in groups.items():
                for start in range(0, len(items), self.max_batch):
                    await self._run_group(key, items[start:start + self.max_batch])

    async def _run_group(self, key: Hashable, items: list[tuple[str, asyncio.Future[Any]]]) -> None:
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self.executor, self._run, key, [q for q, _ in items])
        except Exception as err:
            if len(items) > 1:
                for item in items:
                    await self._run_group(key, [item])
            elif not items[0][1].done():
                items[0][1].set_exception(err)
            return
        for (_, future), result in zip(items, results, strict=True):
            if not future.done():
                future.set_result(result)
