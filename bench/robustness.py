"""Robustness check on a slice of the 2Wiki corpus: kill -9 mid-index, asks during a re-index, bad input.

    python bench/robustness.py [--passages 300] [--data ../shared/data] [--work DIR] [--asks 20]

1. Builds a clean index of the slice (one JSON file per passage) and records its counts and the
   top 5 of a few questions.
2. Kills `python -m hippo index` with SIGKILL at five moments of a fresh build (2/5/10/20/60 s of a
   60 s run, scaled to the clean build's length), checks `stats` and `ask` on what was left,
   re-runs the indexer and compares counts and top 5 with the clean build.
3. Deletes, changes and adds files and asks the questions at least `--asks` times while the
   re-index runs: every ask must return the full top 5 of one version, the old or the new.
4. Runs the bad-input list through the CLI (missing path, bad files, foreign databases, corrupt
   CURRENT, empty question, read-only index, interrupted first run, foreign embedding model).

Prints one line per check and the totals, which should all be 0; exits 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from hippo.api import Hippo  # noqa: E402
from hippo.errors import HippoError  # noqa: E402

KILL_MOMENTS = (2, 5, 10, 20, 60)  # seconds of a 60 s build; scaled to the clean build's length
TOP_K = 5
COUNTED = ("documents", "passages", "entities", "facts", "edges")
Ranking = list[list[str]]  # passage ids, per question


@dataclass
class Totals:
    """What must stay zero."""

    unreadable_indexes: int = 0
    differing_results: int = 0
    failed_or_short_answers: int = 0
    tracebacks: int = 0
    bad_input_mishandled: int = 0

    def line(self) -> str:
        return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in vars(self).items())


class Robustness:
    """One run of the checks in a work folder."""

    def __init__(self, work: Path, records: list[dict[str, str]], passages: int) -> None:
        self.work = work
        self.records = records
        self.passages = passages
        self.corpus = work / "corpus"
        self.totals = Totals()
        titles = [r["title"] for r in records[:passages]]
        self.questions = [f"What is known about {titles[i]}?" for i in range(0, passages, passages // 5)][:5]

    # -- helpers ---------------------------------------------------------------------------------

    def hippo(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """`python -m hippo ARGS`; a traceback on stderr is counted."""
        result = subprocess.run([sys.executable, "-m", "hippo", *args], cwd=REPO, capture_output=True,
                                text=True, timeout=timeout, check=False)
        if "Traceback" in result.stderr:
            self.totals.tracebacks += 1
            print(f"  TRACEBACK from hippo {' '.join(args[:2])}:\n{result.stderr[-2000:]}")
        return result

    def build(self, index: Path) -> float:
        started = time.perf_counter()
        result = self.hippo("index", str(self.corpus), "--index", str(index), "--quiet")
        if result.returncode != 0:
            raise SystemExit(f"indexing failed: {result.stderr.strip()}")
        return time.perf_counter() - started

    def counts(self, index: Path) -> dict[str, object]:
        result = self.hippo("stats", "--index", str(index), "--json")
        if result.returncode != 0:
            self.totals.unreadable_indexes += 1
            print(f"  unreadable: {result.stderr.strip()}")
            return {}
        stats = json.loads(result.stdout)
        return {key: stats.get(key) for key in COUNTED}

    def ranking(self, index: Path) -> Ranking | None:
        """Top-5 passage ids per question from a freshly loaded index; None (and counted) on failure."""
        try:
            results = Hippo(index).retrieve_many(self.questions, top_k=TOP_K)
        except HippoError as err:
            print(f"  ask failed: {err}")
            self.totals.failed_or_short_answers += 1
            return None
        except Exception as err:  # a traceback: what this benchmark counts
            print(f"  ask raised {type(err).__name__}: {err}")
            self.totals.tracebacks += 1
            return None
        ranking = [[p.id for p in r.passages] for r in results]
        if any(len(ids) < TOP_K for ids in ranking):
            self.totals.failed_or_short_answers += 1
            print(f"  short answer: {[len(ids) for ids in ranking]} passages")
        return ranking

    def write_corpus(self, folder: Path, records: list[dict[str, str]]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for number, record in enumerate(records):
            (folder / f"{number:04d}.json").write_text(json.dumps([record], ensure_ascii=False), encoding="utf-8")

    # -- 1. clean build --------------------------------------------------------------------------

    def clean(self) -> tuple[float, dict[str, object], Ranking]:
        self.write_corpus(self.corpus, self.records[:self.passages])
        seconds = self.build(self.work / "clean")
        counts, ranking = self.counts(self.work / "clean"), self.ranking(self.work / "clean")
        print(f"clean build: {seconds:.1f} s, {counts}")
        return seconds, counts, ranking or []

    # -- 2. kill -9 --------------------------------------------------------------------------------

    def kill_trials(self, build_seconds: float, counts: dict[str, object], ranking: Ranking) -> None:
        for moment in KILL_MOMENTS:
            delay = min(moment * build_seconds / 60, 0.6 * build_seconds)  # a build's length varies a lot
            index = self.work / f"killed-{moment}"
            command = [sys.executable, "-m", "hippo", "index", str(self.corpus), "--index", str(index), "--quiet"]
            process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(delay)
            killed = process.poll() is None
            process.send_signal(signal.SIGKILL)
            _, stderr = process.communicate()
            if "Traceback" in stderr:
                self.totals.tracebacks += 1
            left = self.state_after_kill(index)
            self.build(index)
            same_counts = self.counts(index) == counts
            rerun = self.ranking(index)
            same_top = sum(a == b for a, b in zip(rerun or [], ranking, strict=False))
            if not same_counts or same_top != len(ranking):
                self.totals.differing_results += 1
            print(f"kill -9 at {delay:.1f} s ({'killed' if killed else 'had finished'}): {left}; after a re-run "
                  f"counts {'same' if same_counts else 'DIFFER'}, top {TOP_K} same for {same_top}/{len(ranking)}")

    def state_after_kill(self, index: Path) -> str:
        """What `stats` and a query say about a killed index: a usable index or a clean 'incomplete'."""
        stats = self.hippo("stats", "--index", str(index), "--json")
        if stats.returncode == 0:
            state = json.loads(stats.stdout).get("state", "")
            if state.startswith("incomplete"):
                return "stats: incomplete (no graph yet)"
            ranking = self.ranking(index)
            return f"stats: {state.split(':')[0]}; ask: {'ok' if ranking else 'FAILED'}"
        if "incomplete" in stats.stderr or "no hippo index here" in stats.stderr:
            return "stats: " + ("incomplete" if "incomplete" in stats.stderr else "no index yet")
        self.totals.unreadable_indexes += 1
        return f"stats UNREADABLE: {stats.stderr.strip()}"

    # -- 3. asks during a re-index ------------------------------------------------------------------

    def asks_during_reindex(self, asks: int, before: Ranking) -> None:
        live, corpus = self.work / "live", self.corpus  # the clean index's own files change, in place
        shutil.copytree(self.work / "clean", live)
        files = sorted(corpus.glob("*.json"))
        step = max(len(files) // 30, 1)
        for path in files[::step][:15]:
            path.unlink()
        for path in files[1::step][:15]:
            record = json.loads(path.read_text(encoding="utf-8"))[0]
            record["text"] += " This passage was revised."
            path.write_text(json.dumps([record], ensure_ascii=False), encoding="utf-8")
        self.write_corpus(corpus / "added", self.records[self.passages:self.passages + 30])
        command = [sys.executable, "-m", "hippo", "index", str(corpus), "--index", str(live), "--quiet"]
        self.kill_mid_reindex(command, live, before)
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seen: list[Ranking | None] = []
        while_indexing = mid_update_stats = 0
        from hippo.stats import index_stats

        while process.poll() is None or len(seen) < asks:
            running = process.poll() is None
            seen.append(self.ranking(live))
            while_indexing += running
            try:
                mid_update_stats += running and not index_stats(live)["up_to_date"]
            except HippoError as err:
                self.totals.unreadable_indexes += 1
                print(f"  stats during the re-index: {err}")
        _, stderr = process.communicate()
        if process.returncode != 0 or "Traceback" in stderr:
            self.totals.tracebacks += "Traceback" in stderr
            raise SystemExit(f"the re-index failed: {stderr.strip()}")
        after = self.ranking(live)
        versions = Counter("old" if r == before else "new" if r == after else "mixed" for r in seen if r)
        self.totals.differing_results += versions["mixed"]
        print(f"asks during a re-index (15 files deleted, 15 changed, 30 added): {len(seen)} asks, "
              f"{while_indexing} while it ran; old version {versions['old']}, new version {versions['new']}, "
              f"mixed {versions['mixed']}; stats said mid-update {mid_update_stats}/{while_indexing}")

    def kill_mid_reindex(self, command: list[str], live: Path, before: Ranking) -> None:
        """Kills a re-index once it has changed records: queries must still get the old version, complete."""
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        uri = f"file:{live / 'index.sqlite'}?mode=ro"
        while process.poll() is None:
            with sqlite3.connect(uri, uri=True, timeout=30) as conn:
                if conn.execute("SELECT value FROM meta WHERE key='dirty'").fetchone() == ("1",):
                    break
            conn.close()
            time.sleep(0.1)
        time.sleep(1.0)
        killed = process.poll() is None
        process.kill()
        process.wait()
        ranking = self.ranking(live)
        self.totals.differing_results += killed and ranking != before
        print(f"kill -9 mid re-index ({'killed' if killed else 'had finished'}): asks see the "
              f"{'old version, complete' if ranking == before else 'NEW' if not killed else 'WRONG version'}")

    # -- 4. bad input --------------------------------------------------------------------------------

    def bad_inputs(self) -> None:
        cases: list[tuple[str, Callable[[], str | None]]] = [
            ("missing path", self._missing_path), ("bad files", self._bad_files),
            ("foreign SQLite file", self._foreign_sqlite), ("foreign database with a meta table", self._foreign_meta),
            ("corrupt CURRENT", self._corrupt_current), ("empty question", self._empty_question),
            ("read-only index", self._read_only), ("first run killed early", self._interrupted_first_run),
            ("foreign embedding model", self._foreign_model),
        ]
        for name, case in cases:
            problem = case()
            if problem and problem.startswith("skipped"):
                print(f"bad input: {name}: {problem}")
                continue
            self.totals.bad_input_mishandled += problem is not None
            print(f"bad input: {name}: {problem or 'handled'}")

    def _refused(self, result: subprocess.CompletedProcess[str], fragment: str) -> str | None:
        lines = result.stderr.strip().splitlines()
        if result.returncode == 2 and len(lines) == 1 and fragment in lines[0]:
            return None
        return f"expected a one-line error with {fragment!r}, got exit {result.returncode}: {result.stderr.strip()}"

    def _missing_path(self) -> str | None:
        return self._refused(self.hippo("index", str(self.work / "nope"), "--index", str(self.work / "i0")),
                             "no such file or folder")

    def _bad_files(self) -> str | None:
        corpus = self.work / "bad-corpus"
        self.write_corpus(corpus, self.records[:1])
        (corpus / "empty.txt").write_text("")
        (corpus / "binary.txt").write_bytes(bytes(range(256)) * 4)
        (corpus / "latin1.txt").write_bytes("Zoë lived in Orléans. She painted.".encode("latin-1"))
        (corpus / "malformed.json").write_text('[{"title": "x", "text": ')
        index = self.work / "bad-index"
        result = self.hippo("index", str(corpus), "--index", str(index), "--quiet")
        warned = {name for name in ("empty.txt", "binary.txt", "latin1.txt", "malformed.json") if name in result.stderr}
        documents = json.loads(self.hippo("stats", "--index", str(index), "--json").stdout or "{}").get("documents")
        if result.returncode == 0 and len(warned) == 4 and documents == 1:
            return None
        return f"exit {result.returncode}, warned about {sorted(warned)}, {documents} documents indexed"

    def _foreign_sqlite(self) -> str | None:
        folder = self.work / "foreign"
        folder.mkdir()
        with sqlite3.connect(folder / "index.sqlite") as conn:
            conn.execute("CREATE TABLE notes (body TEXT)")
        conn.close()
        problem = self._refused(self.hippo("index", str(self.corpus), "--index", str(folder), "--quiet"),
                                "not a hippo index")
        with sqlite3.connect(folder / "index.sqlite") as conn:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        conn.close()
        return problem or (None if mode == "delete" and not (folder / ".lock").exists()
                           else f"the foreign file was changed (journal mode {mode}, lock file made)")

    def _foreign_meta(self) -> str | None:
        folder = self.work / "foreign-meta"
        folder.mkdir()
        with sqlite3.connect(folder / "index.sqlite") as conn:
            conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            conn.execute("INSERT INTO meta VALUES ('schema', '3')")
        conn.close()
        for args in (["stats"], ["index", str(self.corpus), "--quiet"]):
            problem = self._refused(self.hippo(*args, "--index", str(folder)), "not a hippo index")
            if problem:
                return problem
        return None

    def _corrupt_current(self) -> str | None:
        index = self.work / "corrupt-current"
        shutil.copytree(self.work / "clean", index)
        (index / "CURRENT").write_text("../../etc")
        problem = self._refused(self.hippo("ask", self.questions[0], "--index", str(index), "--retrieve-only"),
                                "corrupt snapshot pointer")
        stats = self.hippo("stats", "--index", str(index), "--json")
        if not problem and (stats.returncode != 0 or "corrupt" not in json.loads(stats.stdout).get("state", "")):
            problem = f"stats did not report the corrupt pointer: {stats.stdout or stats.stderr}"
        return problem

    def _empty_question(self) -> str | None:
        return self._refused(self.hippo("ask", "  ", "--index", str(self.work / "clean")), "empty")

    def _read_only(self) -> str | None:
        if not shutil.which("unshare") or subprocess.run(["unshare", "-m", "true"], capture_output=True,
                                                         check=False).returncode:
            return "skipped (no `unshare -m` here for a read-only bind mount)"
        index, mount = self.work / "read-only", self.work / "read-only-mount"
        shutil.copytree(self.work / "clean", index)
        mount.mkdir()
        before = sorted((p.name, p.stat().st_mtime_ns) for p in index.rglob("*"))
        hippo = f"{sys.executable} -m hippo"
        script = (f"mount --bind {index} {mount} && mount -o remount,ro,bind {mount} && "
                  f"{hippo} stats --index {mount} --json > /dev/null && "
                  f"{hippo} ask {json.dumps(self.questions[0])} --index {mount} --retrieve-only --json")
        result = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=REPO, capture_output=True, text=True,
                                check=False, timeout=900)
        self.totals.tracebacks += "Traceback" in result.stderr
        if result.returncode != 0:
            return f"exit {result.returncode}: {result.stderr.strip()}"
        passages = len(json.loads(result.stdout)["passages"])
        after = sorted((p.name, p.stat().st_mtime_ns) for p in index.rglob("*"))
        if passages == TOP_K and after == before:
            return None
        return f"{passages} passages, files changed: {after != before}"

    def _interrupted_first_run(self) -> str | None:
        index = self.work / "interrupted"
        index.mkdir()
        (index / ".lock").touch()
        (index / "index.sqlite").touch()
        return self._refused(self.hippo("stats", "--index", str(index)), "incomplete hippo index")

    def _foreign_model(self) -> str | None:
        index = self.work / "foreign-model"
        shutil.copytree(self.work / "clean", index)
        with sqlite3.connect(index / "index.sqlite") as conn:
            settings = json.loads(conn.execute("SELECT value FROM meta WHERE key='settings'").fetchone()[0])
            settings["embedding_model"] = "someone/unvetted-model"
            conn.execute("UPDATE meta SET value=? WHERE key='settings'", (json.dumps(settings),))
        conn.close()
        return self._refused(self.hippo("ask", self.questions[0], "--index", str(index), "--retrieve-only"),
                             "never downloads")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--passages", type=int, default=300, help="passages of the 2Wiki corpus to use")
    parser.add_argument("--asks", type=int, default=20, help="asks during the re-index (at least)")
    parser.add_argument("--work", type=Path, help="work folder to keep (default: a temporary one)")
    args = parser.parse_args()
    corpus_file = args.data / "2wikimultihopqa" / "2wikimultihopqa_corpus.json"
    if not corpus_file.is_file():
        raise SystemExit(f"{corpus_file}: not found; pass --data DIR holding 2wikimultihopqa/")
    records = [{"title": r["title"], "text": r["text"]} for r in json.loads(corpus_file.read_text(encoding="utf-8"))]
    work = args.work or Path(tempfile.mkdtemp(prefix="hippo-robustness-"))
    work.mkdir(parents=True, exist_ok=True)
    run = Robustness(work, records, args.passages)
    print(f"robustness: {args.passages} passages of {corpus_file.name}, {len(run.questions)} questions, work {work}")
    try:
        seconds, counts, ranking = run.clean()
        run.kill_trials(seconds, counts, ranking)
        run.asks_during_reindex(args.asks, ranking)
        run.bad_inputs()
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"totals: {run.totals.line()}")
    sys.exit(1 if any(vars(run.totals).values()) else 0)


if __name__ == "__main__":
    main()
