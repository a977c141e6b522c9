"""Push throughput into Neo4j (nodes + relationships per second): a first push into an
emptied database, then a re-push that finds nothing to write.

    set -a; eval "$(scripts/neo4j-server start)"; set +a
    python bench/bench_neo4j.py --index .hippo-eval/2wiki [--json bench/results/neo4j.json]

Empties the target database of hippo's nodes first: point it at a scratch server.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

from hippo.errors import HippoError
from hippo.neo4j import Neo4jConfig, PushReport, push_index
from hippo.neo4j.connection import open_session
from hippo.neo4j.push import BATCH_ROWS, NODE_LABELS

_CLEAR = (
    "MATCH (n) WHERE " + " OR ".join(f"n:{label}" for label in NODE_LABELS)
    + " CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS"
)


def _row(name: str, report: PushReport) -> dict[str, object]:
    return {
        "run": name, "elements": report.elements, "written": report.written,
        "seconds": round(report.seconds, 2), "elements_per_s": round(report.elements / report.seconds),
        "written_per_s": round(report.written / report.seconds),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True, help="hippo index directory")
    parser.add_argument("--uri")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--database")
    parser.add_argument("--batch-rows", type=int, default=BATCH_ROWS)
    parser.add_argument("--no-repush", action="store_true",
                        help="only the first push (at 1M passages the re-push reads ~12M elements back)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    config = Neo4jConfig.from_env(args.uri, args.user, args.password, args.database)
    try:
        with open_session(config) as session:
            session.run(_CLEAR).consume()
        runs = [_row(name, push_index(args.index, config, batch_rows=args.batch_rows))
                for name in ("first push", "re-push")[:1 if args.no_repush else 2]]
    except HippoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{'run':<11} {'elements':>9} {'written':>9} {'seconds':>8} {'elements/s':>11} {'written/s':>10}")
    for r in runs:
        print(f"{r['run']:<11} {r['elements']:>9} {r['written']:>9} {r['seconds']:>8} "
              f"{r['elements_per_s']:>11} {r['written_per_s']:>10}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "index": str(args.index), "uri": config.uri, "batch_rows": args.batch_rows,
            "machine": f"{platform.machine()}, {platform.python_version()}", "runs": runs,
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
