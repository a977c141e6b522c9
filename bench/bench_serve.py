"""Load on `hippo serve` over loopback: N concurrent clients POST /retrieve for T seconds
(queries/s, p50/p99 latency, errors), against one-by-one `Hippo.retrieve` in-process in the
same run on the same index, with the ratios.

    python bench/bench_serve.py --clients 8 --seconds 20                  # the sample index, built here
    python bench/bench_serve.py --index 2wiki-index --questions ../shared/data/2wikimultihopqa/questions.json \\
        --clients 16 --seconds 60

Questions come from a JSONL file of {"question"} lines or a JSON list of {"question"} records,
cycled. The server is `python -m hippo serve` in a subprocess, so it competes for the same cores
as the clients (loopback: no network cost); bounded by --seconds, each request by a timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from hippo.api import Hippo
from hippo.indexer import Indexer

REPO = Path(__file__).resolve().parent.parent
KEY = "bench-key"


def load_questions(path: Path) -> list[str]:
    """Questions of a JSONL file or a JSON list of {"question"} records."""
    text = path.read_text(encoding="utf-8")
    records = json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x]
    return [str(r["question"]) for r in records]


def summary(latencies: list[float], errors: int, seconds: float) -> dict[str, float]:
    """Queries/s, p50/p99 latency in ms, errors."""
    ms = np.asarray(latencies) * 1000
    return {"queries": len(latencies), "qps": len(latencies) / seconds, "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)), "errors": errors}


def one_by_one(index: Path, questions: list[str], pipeline: str, top_k: int, seconds: float,
               threads: int | None) -> dict[str, float]:
    """`Hippo.retrieve` one question after another for `seconds` (models loaded first)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    hippo = Hippo(index)
    hippo.retrieve(questions[0], pipeline, top_k)
    latencies: list[float] = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        begin = time.perf_counter()
        hippo.retrieve(questions[len(latencies) % len(questions)], pipeline, top_k)
        latencies.append(time.perf_counter() - begin)
    return summary(latencies, 0, time.perf_counter() - started)


def served(url: str, questions: list[str], pipeline: str, top_k: int, clients: int,
           seconds: float) -> dict[str, float]:
    """`clients` threads POSTing /retrieve back to back for `seconds`."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(number: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as http:
            n = number
            while time.perf_counter() < deadline:
                body = {"question": questions[n % len(questions)], "top_k": top_k, "pipeline": pipeline}
                begin = time.perf_counter()
                try:
                    ok = http.post("/retrieve", json=body).status_code == 200
                except httpx.HTTPError:
                    ok = False
                elapsed = time.perf_counter() - begin
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    else:
                        errors[0] += 1
                n += clients

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return summary(latencies, errors[0], time.perf_counter() - started)


def start_server(index: Path, port: int, threads: int | None) -> subprocess.Popen[bytes]:
    """`hippo serve` on 127.0.0.1:`port`, returned once /health answers."""
    env = {**os.environ, "HIPPO_API_KEY": KEY, "PYTHONPATH": str(REPO)}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    process = subprocess.Popen([sys.executable, "-m", "hippo", "serve", "--index", str(index), "--port", str(port)],
                               cwd=REPO, env=env)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", headers={"Authorization": f"Bearer {KEY}"}).is_success:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start")


def cpu_flags() -> str:
    """The AVX flags of this CPU (avx2, avx512*)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    return " ".join(sorted(set(re.findall(r"\b(avx512[a-z_0-9]*|avx2)\b", text)))) or "none"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="index directory (default: data/sample indexed into a temp dir)")
    parser.add_argument("--questions", type=Path, default=REPO / "data" / "sample_questions.jsonl")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pipeline", default="hipporag2")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch threads on both sides (OMP_NUM_THREADS for the server); "
                        "default: torch's own, the cores")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    questions = load_questions(args.questions)
    with tempfile.TemporaryDirectory() as tmp:
        index = args.index
        if index is None:
            index = Path(tmp) / "index"
            Indexer(index, quiet=True).run([REPO / "data" / "sample"])
        port = free_port()
        server = start_server(index, port, args.threads)
        try:
            remote = served(f"http://127.0.0.1:{port}", questions, args.pipeline, args.top_k, args.clients,
                            args.seconds)
        finally:
            server.kill()
            server.wait()
        local = one_by_one(index, questions, args.pipeline, args.top_k, args.seconds, args.threads)
    result: dict[str, Any] = {
        "index": str(args.index or "data/sample"), "pipeline": args.pipeline, "top_k": args.top_k,
        "clients": args.clients, "seconds": args.seconds, "threads": args.threads or "default",
        "cores": len(os.sched_getaffinity(0)),
        "cpu_flags": cpu_flags(), "server": remote, "one_by_one": local,
        "ratios": {"qps": remote["qps"] / local["qps"], "p50": remote["p50_ms"] / local["p50_ms"],
                   "p99": remote["p99_ms"] / local["p99_ms"]},
    }
    print(f"{'':<22}{'queries/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, row in ((f"server, {args.clients} clients", remote), ("Hippo.retrieve 1-by-1", local)):
        print(f"{name:<22}{row['qps']:>10.1f}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}{row['errors']:>8}")
    ratios = result["ratios"]
    print(f"server / one-by-one: {ratios['qps']:.2f}x queries/s, p50 {ratios['p50']:.2f}x, p99 {ratios['p99']:.2f}x"
          f"  ({result['cores']} cores, torch threads {result['threads']}, {result['cpu_flags']})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
