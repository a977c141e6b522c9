"""Indexing on a Ray cluster (`hippo index --ray auto|local|ADDRESS`, the `ray` extra).

OpenIE and embedding are independent per passage and per string, so they run in Ray actors
spread over the cluster's CPUs (one per CPU; each loads spaCy or the encoder once), while this
process reads the corpus, writes the index and builds the graph exactly as a single-machine
run does: the index is the same. Every node needs hippo and its models installed (the same
environment as this one). An LLM extractor is not sent to Ray: its requests already fan out
over the `--llm` endpoints.
"""

from __future__ import annotations

import functools
import logging
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from hippo.corpus import Passage
from hippo.errors import HippoError
from hippo.extract.base import Extraction

PROBE_SECONDS = 5.0


def connect(address: str) -> int:
    """Joins the Ray cluster at `address` ("auto": the one this machine belongs to, "local": a
    new one on this machine for this run) once per process; returns its CPU count."""
    try:
        import ray
    except ImportError:
        raise HippoError("--ray needs Ray; run `pip install 'hippo-rag[ray]'` (on every node)") from None
    if not ray.is_initialized():
        options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
        if address == "local":
            options["include_dashboard"] = False
        try:
            _probe(address)
            ray.init(address=address, **options)
        except (OSError, RuntimeError, ValueError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise HippoError(
                f"--ray {address}: cannot join the Ray cluster ({first}); start one with `ray start --head` "
                "and pass its address (HOST:PORT), or use --ray local"
            ) from None
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _probe(address: str) -> None:
    """Raises OSError at once when HOST:PORT takes no connection (Ray itself retries for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if host and port.isdigit():
        socket.create_connection((host, int(port)), timeout=PROBE_SECONDS).close()


class RayPool:
    """One actor per cluster CPU, each holding `make()`; `map` sends chunks out and keeps their order."""

    def __init__(self, make: Callable[[], Any], cpus: int) -> None:
        import ray
        from ray.util import ActorPool

        worker = ray.remote(num_cpus=1)(_Worker)
        self._actors = [worker.remote(make) for _ in range(cpus)]
        self._pool = ActorPool(self._actors)

    def map(self, method: str, chunks: Iterable[Any]) -> Iterator[Any]:
        """`getattr(worker, method)(chunk)` for each chunk, run across the actors, yielded in order."""
        return self._pool.map(lambda actor, chunk: actor.call.remote(method, chunk), list(chunks))

    @property
    def size(self) -> int:
        return len(self._actors)

    def close(self) -> None:
        """Ends the actors (their CPUs go back to the cluster)."""
        import ray

        for actor in self._actors:
            ray.kill(actor)
        self._actors = []


class _Worker:
    """The object an actor holds, built once in the actor's process."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._target = make()

    def call(self, method: str, argument: Any) -> Any:
        return getattr(self._target, method)(argument)


class RayExtractor:
    """An Extractor whose batches are split across Ray actors running extractor `name`."""

    def __init__(self, name: str, cpus: int, **options: Any) -> None:
        from hippo.extract import get_extractor

        self.name = name
        self._pool = RayPool(functools.partial(get_extractor, name, workers=1, **options), cpus)

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        """One Extraction per passage, as the extractor would give them in one process."""
        parts = self._pool.map("extract", _split(list(passages), self._pool.size))
        return [extraction for part in parts for extraction in part]

    def close(self) -> None:
        self._pool.close()


class RayEncoder:
    """An Encoder whose chunks go to Ray actors holding the same model, each chunk whole, so its
    vectors are the ones one process would compute (the int8 encoder's scales depend on the batch)."""

    def __init__(self, model_name: str, batch_size: int, runtime: str, cpus: int) -> None:
        from hippo.embed import Encoder

        self._pool = RayPool(functools.partial(Encoder, model_name, batch_size, runtime), cpus)

    def encode_each(self, chunks: Iterable[Sequence[str]]) -> Iterator[np.ndarray]:
        """The vectors of each chunk, in order, the chunks encoded in parallel across the actors."""
        return self._pool.map("encode", chunks)

    def close(self) -> None:
        self._pool.close()


def _split(items: list[Any], parts: int) -> list[list[Any]]:
    """`items` in at most `parts` contiguous chunks of near-equal size (none empty)."""
    size = max(1, -(-len(items) // parts))
    return [items[start:start + size] for start in range(0, len(items), size)] or [[]]
