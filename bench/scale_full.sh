#!/usr/bin/env bash
# Every bench/SCALE.md measurement of one size, in order, each step skipped once its output is in
# DIR (so a run of hours, killed anywhere, is continued by running it again on the same DIR):
#   1. bench/scale.sh N DIR: generate, index (resumable), `hippo bench`, bench_ann.py
#      (BENCH_ANN_ARGS passed on, e.g. "--modes ann" at 1M);
#   2. the index's size on disk (disk.txt);
#   3. a cold `hippo ask --retrieve-only` twice (ask1/ask2: the first process computes what it
#      keeps beside the snapshot, the second reads it), /usr/bin/time for wall clock and peak RSS;
#   4. `hippo eval` through the CLI on the first 100 questions (eval.json);
#   5. 1k passages added to the index itself (bench/scale_add.sh with IN_PLACE=1, into DIR/add1k);
#   6. the Neo4j push (bench/bench_neo4j.py --no-repush, neo4j.json) to a server of its own
#      started from scripts/neo4j-server (state in DIR/neo4j; HIPPO_NEO4J_HEAP, default 4g);
#   7. bench/scale_report.py DIR > DIR/report.md.
#   bench/scale_full.sh N DIR
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: bench/scale_full.sh N DIR} dir=${2:?usage: bench/scale_full.sh N DIR}
step() { echo "== $1 $(date -u +%FT%TZ)"; }
timed() { /usr/bin/time -v "$@"; }
mkdir -p "$dir"
if [ ! -s "$dir/ann.json" ]; then
    step "index, bench, ANN against exact"
    bench/scale.sh "$n" "$dir" > "$dir/scale.out" 2>&1 || { echo "bench/scale.sh failed: see $dir/scale.out"; exit 1; }
fi
step "disk"
du -sb "$dir/index" > "$dir/disk.txt" && du -sh "$dir"/index/* >> "$dir/disk.txt"
if [ ! -s "$dir/ask2.log" ]; then
    step "cold asks"
    question=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))[0]["question"])' "$dir/questions.json")
    for k in 1 2; do
        timed python -m hippo ask "$question" --index "$dir/index" --json --top-k 5 --retrieve-only \
            > "$dir/ask$k.json" 2> "$dir/ask$k.log" || { echo "ask failed: see $dir/ask$k.log"; exit 1; }
    done
fi
if [ ! -s "$dir/eval.json" ]; then
    step "hippo eval, 100 questions"
    timed python -m hippo eval --dataset "$dir/questions.json" --corpus "$dir/corpus.json" --index "$dir/index" \
        --limit 100 --quiet --json "$dir/eval.json" > "$dir/eval.out" 2> "$dir/eval.log" \
        || { echo "eval failed: see $dir/eval.log"; exit 1; }
fi
if [ ! -s "$dir/add1k/add.json" ]; then
    step "1k added"
    IN_PLACE=1 bench/scale_add.sh "$dir" "$dir/index" "$dir/add1k" > "$dir/add1k.out" 2>&1 \
        || { echo "add failed: see $dir/add1k.out"; exit 1; }
fi
if [ ! -s "$dir/neo4j.json" ]; then
    step "Neo4j push"
    export HIPPO_NEO4J_HOME="$dir/neo4j" HIPPO_NEO4J_HEAP="${HIPPO_NEO4J_HEAP:-4g}"
    server="$(scripts/neo4j-server start)" || { echo "the Neo4j server did not start"; exit 1; }
    set -a; eval "$server"; set +a
    timed python bench/bench_neo4j.py --index "$dir/index" --no-repush --json "$dir/neo4j.json" > "$dir/neo4j.out" 2>&1
    pushed=$?
    scripts/neo4j-server stop
    [ "$pushed" = 0 ] || { echo "the push failed: see $dir/neo4j.out"; exit 1; }
fi
step "report"
python bench/scale_report.py "$dir" > "$dir/report.md" && cat "$dir/report.md"
