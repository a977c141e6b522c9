#!/usr/bin/env bash
# Reproduces one dataset's rows of the README results table, then times queries on that index.
#   bench/run.sh {2wiki|musique|hotpotqa|sample} [more `hippo eval` options, e.g. --limit 50]
# HIPPO_DATA: the shared data folder (default ../shared/data); HIPPO_EVAL_INDEXES: where the
# indexes live (default .hippo-eval; an existing index is reused). Results: bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${HIPPO_DATA:-../shared/data}"
indexes="${HIPPO_EVAL_INDEXES:-.hippo-eval}"
name="${1:-}"
case "$name" in
  2wiki)    questions="$data/2wikimultihopqa/2wikimultihopqa_derived_gold.json"
            corpus="$data/2wikimultihopqa/2wikimultihopqa_corpus.json" ;;
  musique)  questions="$data/musique/musique.json"
            corpus="$data/musique/musique_dev_corpus.json" ;;
  hotpotqa) questions="$data/hotpotqa/hotpot.json"
            corpus="$data/hotpotqa/hotpot_dev_corpus.json" ;;
  sample)   questions=data/sample_questions.jsonl
            corpus=data/sample ;;
  *) echo "usage: bench/run.sh {2wiki|musique|hotpotqa|sample} [hippo eval options]" >&2; exit 2 ;;
esac
shift
mkdir -p bench/results
hippo eval --dataset "$questions" --corpus "$corpus" --index "$indexes/$name" \
  --pipelines hipporag2,hybrid,dense --json "bench/results/$name.json" "$@"
hippo bench --index "$indexes/$name" --dataset "$questions" --queries 50 \
  --pipelines hipporag2,hybrid,dense --json "bench/results/$name-bench.json"
