#!/usr/bin/env bash
# MemGAS on LoCoMo: memgas against its single-granularity baselines, dense and hipporag2
# (session recall_any/recall_all/NDCG and turn recall per category), then the dev/test split,
# routing weights per category, indexing time per session and query latency.
#   bench/locomo.sh [more `hippo eval` options, e.g. --limit 200]
# HIPPO_DATA: the shared data folder (default ../shared/data); HIPPO_EVAL_INDEXES: where the
# per-conversation indexes live (default .hippo-eval). Results: bench/results/locomo*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${HIPPO_DATA:-../shared/data}"
indexes="${HIPPO_EVAL_INDEXES:-.hippo-eval}/locomo10"
p=bench/locomo-pipelines
baselines="$p/only-session.toml,$p/only-turn.toml,$p/only-sentence.toml,$p/only-exchange.toml"
baselines="$baselines,$p/only-summary.toml,$p/only-keywords.toml,$p/only-lexical-session.toml,$p/only-lexical-turn.toml"
baselines="$baselines,$p/only-lexical-sentence.toml"
baselines="$baselines,$p/only-lexical-exchange.toml,$p/hybrid-exchange.toml,$p/memgas-dense.toml,$p/memgas-graph.toml"
baselines="$baselines,$p/memgas-paper.toml"
mkdir -p bench/results
python -m hippo eval --dataset "$data/locomo/locomo10.json" --index "$indexes" \
  --pipelines "memgas,dense,hipporag2,$baselines" --json bench/results/locomo.json "$@"
python bench/bench_memgas.py --results bench/results/locomo.json --indexes "$indexes" \
  --json bench/results/locomo-bench.json
