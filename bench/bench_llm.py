"""LLM OpenIE throughput per backend (passages/s, LLM calls/s), then the cache hit rate of a re-run.

    # the bundled model in-process, and behind llama.cpp's OpenAI-compatible server:
    python -m llama_cpp.server --model "$(python -c 'from hippo.models import bundled_gguf_path as p; print(p())')" \\
        --model_alias smollm2 --port 8090 --n_threads 1 --n_threads_batch 1 &
    python bench/bench_llm.py --llm local --llm http://127.0.0.1:8090/v1 \\
        --corpus ../shared/data/2wikimultihopqa/2wikimultihopqa_corpus.json --passages 16 --json bench/results/llm.json
    # the bundled model on both local runtimes, one row each:
    python bench/bench_llm.py --llm local --runtime llama-cpp --runtime transformers --threads 1
    # a GPU machine: python bench/bench_llm.py --llm vllm:Qwen/Qwen2.5-7B-Instruct --passages 1000

Each backend gets a fresh response cache; the re-run reads the same passages through it and
must make no LLM calls (hit rate 100%) unless a request failed the first time.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hippo.corpus import Passage, discover, read_passages
from hippo.errors import HippoError
from hippo.extract.llm_ie import LLMExtractor
from hippo.llm import make_llm
from hippo.llm.factory import LOCAL_RUNTIMES

BATCH = 16


def load_passages(corpus: Path, limit: int) -> list[Passage]:
    """The first `limit` passages of a corpus file or folder."""
    passages: list[Passage] = []
    for source in discover(corpus):
        passages += read_passages(source.path, source.path.read_bytes(), 120, 1)[1]
        if len(passages) >= limit:
            break
    return passages[:limit]


def run(spec: str, passages: list[Passage], max_tokens: int, options: dict[str, Any]) -> dict[str, object]:
    """Extracts `passages` twice through one fresh cache; the figures of both runs."""
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "llm_cache.sqlite"
        row: dict[str, object] = {"llm": spec}
        for label in ("first", "rerun"):
            llm = make_llm(spec, cache_path=cache, **options)
            extractor = LLMExtractor(llm, max_tokens=max_tokens)
            started = time.perf_counter()
            results = [r for i in range(0, len(passages), BATCH) for r in extractor.extract(passages[i:i + BATCH])]
            seconds = time.perf_counter() - started
            stats = llm.stats
            row["model"] = llm.name
            if label == "first":
                ok = [r for r in results if r.error is None]
                row.update({
                    "passages": len(passages), "seconds": round(seconds, 2),
                    "passages_per_s": round(len(passages) / seconds, 3),
                    "llm_calls": stats.calls, "llm_calls_per_s": round(stats.calls / seconds, 3),
                    "failed_passages": len(results) - len(ok),
                    "passages_without_triples": sum(not r.triples for r in ok),
                    "triples_per_passage": round(sum(len(r.triples) for r in ok) / max(1, len(ok)), 2),
                    "repairs": sum(r.repairs for r in ok),
                })
            else:
                row.update({
                    "rerun_seconds": round(seconds, 3), "rerun_llm_calls": stats.calls,
                    "rerun_cache_hit_rate": round(stats.cache_hits / max(1, stats.requests), 4),
                })
            llm.close()
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llm", action="append", required=True, help="backend spec (repeatable)")
    parser.add_argument("--corpus", type=Path, default=Path("data/sample"))
    parser.add_argument("--passages", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None, help="threads for --llm local")
    parser.add_argument("--runtime", action="append", choices=LOCAL_RUNTIMES, default=None,
                        help="run --llm local on this runtime (repeatable: one row each; default: the installed one)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    try:
        passages = load_passages(args.corpus, args.passages)
        rows = []
        for spec in args.llm:
            local = spec.startswith("local")
            for runtime in (args.runtime or [None]) if local else [None]:
                options: dict[str, Any] = {"n_threads": args.threads} if local and args.threads else {}
                if runtime:
                    options["runtime"] = runtime
                rows.append(run(spec, passages, args.max_tokens, options))
                print(json.dumps(rows[-1]), flush=True)
    except HippoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        result = {"machine": platform.machine(), "python": platform.python_version(),
                  "corpus": str(args.corpus), "max_tokens": args.max_tokens, "rows": rows}
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
