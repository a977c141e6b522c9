#!/usr/bin/env bash
# One size of bench/SCALE.md's "Measured" table: generate N passages with their questions, index
# them (seconds per stage in index-runK.json, peak RSS from /usr/bin/time), time warm queries and the
# disk size (hippo bench), then exact search against the ANN index and recall on the questions
# (bench/bench_ann.py). Each step prints its own lines; every file lands in DIR.
# Resumable (a 1M run takes hours): re-running it keeps DIR/corpus.json and continues the index
# where the last run stopped (the store keeps extractions and vectors); each indexing run writes its
# own index-runK.json / index-runK.log, and the summary sums the finished runs' stage seconds.
#   bench/scale.sh N [DIR]        (DIR: /tmp/hippo-scale-N)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: bench/scale.sh N [DIR]}
dir=${2:-/tmp/hippo-scale-$n}
[ -f "$dir/corpus.json" ] || python bench/scale_corpus.py --passages "$n" --out "$dir"
run=$(( $(find "$dir" -maxdepth 1 -name 'index-run*.json' | wc -l) + 1 ))
/usr/bin/time -v python -m hippo index "$dir/corpus.json" --index "$dir/index" --json \
    >"$dir/index-run$run.json" 2>"$dir/index-run$run.log"
python - "$dir" <<'PY'
import json, sys
from pathlib import Path

runs = sorted(Path(sys.argv[1]).glob("index-run*.json"), key=lambda p: int(p.stem.removeprefix("index-run")))
seconds: dict[str, float] = {}
for path in runs:
    text = path.read_text().strip()
    if not text:  # an interrupted run writes no report: its time is not counted
        print(f"{path.name}: interrupted, no report")
        continue
    report = json.loads(text)
    for stage, value in report["seconds"].items():
        seconds[stage] = seconds.get(stage, 0.0) + value
    print(f"{path.name}: seconds {report['seconds']}, OpenIE workers MiB {report['worker_peak_rss_mb']}")
print("index seconds, finished runs summed:", {k: round(v, 1) for k, v in seconds.items()})
PY
grep -E "Maximum resident|Elapsed" "$dir"/index-run*.log
python -m hippo bench --index "$dir/index" --dataset "$dir/questions.json" --queries 100 --json "$dir/bench.json"
# BENCH_ANN_ARGS: more options for bench_ann.py (at 1M, "--modes ann": exact search end to end
# takes an estimated ~2 s a hipporag2 query there: ~20 minutes for its 600 queries)
PYTHONPATH=. python bench/bench_ann.py --index "$dir/index" --corpus "$dir/corpus.json" \
    --questions "$dir/questions.json" --json "$dir/ann.json" ${BENCH_ANN_ARGS:-}
