"""Where an indexing run's memory goes, stage by stage: runs `hippo ARGS...` in this process and
prints, for each stage of the graph build (and the memory stages after it), its peak RSS (VmHWM,
reset through /proc/self/clear_refs as the stage starts), its peak RssAnon (sampled every 5 ms)
and the RSS left after it, in MiB, as JSON lines on stderr ("MEM {...}"). Linux only.

    PYTHONPATH=. python bench/build_memory.py index DIR/corpus.json --index INDEX --json

A full graph build from cached records and vectors: delete INDEX's `CURRENT` first (bench/SCALE.md,
"Memory of a full build"). The VmHWM resets leave `/usr/bin/time`'s maximum RSS at the last
stage's: the run's peak is the largest stage peak printed.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import hippo.indexer
import hippo.snapshot_build
import hippo.store
from hippo.cli import main

_FIELDS = ("VmHWM", "VmRSS", "RssAnon", "RssFile")
_peak_anon = [0]


def memory() -> dict[str, int]:
    """This process's VmHWM, VmRSS, RssAnon and RssFile, in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        lines = [line.split(":") for line in status]
    return {key: int(value.split()[0]) // 1024 for key, value in lines if key in _FIELDS}


def _sample() -> None:
    while True:
        _peak_anon[0] = max(_peak_anon[0], memory()["RssAnon"])
        time.sleep(0.005)


def watch(owner: Any, name: str, label: Callable[..., str]) -> None:
    """Replaces `owner.<name>` with a wrapper printing the memory of each call (`label(*args)`)."""
    real = getattr(owner, name)

    @functools.wraps(real)
    def watched(*args: Any, **kwargs: Any) -> Any:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")  # VmHWM := VmRSS
        before, started = memory(), time.perf_counter()
        _peak_anon[0] = before["RssAnon"]
        try:
            return real(*args, **kwargs)
        finally:
            after = memory()
            print("MEM", json.dumps({
                "stage": label(*args), "seconds": round(time.perf_counter() - started, 1),
                "peak_rss": after["VmHWM"], "peak_anon": _peak_anon[0], "rss_before": before["VmRSS"],
                "anon_before": before["RssAnon"], "anon_after": after["RssAnon"], "file_after": after["RssFile"],
            }), file=sys.stderr, flush=True)

    setattr(owner, name, watched)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Per-stage memory of a `hippo` run (Linux; see the module docstring).")
    parser.add_argument("hippo_args", nargs=argparse.REMAINDER, help="the hippo command line: index CORPUS --index ...")
    arguments = parser.parse_args()
    threading.Thread(target=_sample, daemon=True).start()
    build = hippo.snapshot_build.SnapshotBuild
    watch(build, "start", lambda *_: "records")
    watch(hippo.indexer.Indexer, "_embed_missing", lambda *_: "embed")
    watch(hippo.snapshot_build.Units, "load", lambda _units, _store, _previous, array, *_: f"load {array}")
    watch(build, "_synonyms", lambda *_: "synonyms")
    watch(hippo.snapshot_build, "build_edges", lambda *_: "edges")
    watch(build, "store_records", lambda *_: "store records")
    watch(hippo.indexer, "save_snapshot", lambda *_: "save snapshot")
    watch(hippo.store.IndexStore, "prune_embeddings", lambda *_: "prune embeddings")
    watch(hippo.indexer, "update_memory", lambda *_: "memory")
    watch(hippo.indexer, "update_global_memory", lambda *_: "global memory")
    sys.argv = ["hippo", *arguments.hippo_args]
    main()
