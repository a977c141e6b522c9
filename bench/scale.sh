#!/usr/bin/env bash
# One size of bench/SCALE.md's "Measured" table: generate N passages with their questions, index
# them (seconds per stage in index.json, peak RSS from /usr/bin/time), time warm queries and the
# disk size (hippo bench), then exact search against the ANN index and recall on the questions
# (bench/bench_ann.py). Each step prints its own lines; every file lands in DIR.
#   bench/scale.sh N [DIR]        (DIR: /tmp/hippo-scale-N)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: bench/scale.sh N [DIR]}
dir=${2:-/tmp/hippo-scale-$n}
python bench/scale_corpus.py --passages "$n" --out "$dir"
/usr/bin/time -v python -m hippo index "$dir/corpus.json" --index "$dir/index" --json >"$dir/index.json" 2>"$dir/index.log"
python -c 'import json, sys; r = json.load(open(sys.argv[1])); print("index seconds", r["seconds"], "OpenIE workers MiB", r["worker_peak_rss_mb"])' "$dir/index.json"
grep -E "Maximum resident|Elapsed" "$dir/index.log"
python -m hippo bench --index "$dir/index" --dataset "$dir/questions.json" --queries 100 --json "$dir/bench.json"
PYTHONPATH=. python bench/bench_ann.py --index "$dir/index" --corpus "$dir/corpus.json" \
    --questions "$dir/questions.json" --json "$dir/ann.json"
