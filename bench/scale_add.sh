#!/usr/bin/env bash
# bench/SCALE.md's "Adding 1k passages": index a second, 1k-passage file beside a generated corpus
# that INDEX was built from, on a copy of INDEX (left unchanged), and print the seconds per stage.
#   bench/scale_add.sh CORPUS_DIR INDEX DIR     (CORPUS_DIR: the folder of the corpus.json INDEX was built from;
#   it and the added file are indexed by name, so nothing else in the folder is read)
# With IN_PLACE=1 the pages are added to INDEX itself (no copy: at 1M passages a copy takes ~20 GB
# and minutes), which then holds them; the file stays in CORPUS_DIR so that INDEX keeps them.
# The added pages come from `scale_corpus.py --seed 7` (other names than the default seed's); the
# file is removed from CORPUS_DIR again at the end. DIR gets the index copy, add.json (the index
# report) and add.log (/usr/bin/time: peak RSS and wall clock).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:?usage: bench/scale_add.sh CORPUS_DIR INDEX DIR} index=${2:?} dir=${3:?}
mkdir -p "$dir"
python bench/scale_corpus.py --passages 1000 --seed 7 --out "$dir/pages"
if [ "${IN_PLACE:-0}" = 1 ]; then
    target=$index
else
    target=$dir/index
    rm -rf "$target" && cp -a "$index" "$target"
    trap 'rm -f "$corpus/added-1k.json"' EXIT
fi
cp "$dir/pages/corpus.json" "$corpus/added-1k.json"
/usr/bin/time -v python -m hippo index "$corpus/corpus.json" "$corpus/added-1k.json" --index "$target" --json --quiet >"$dir/add.json" 2>"$dir/add.log"
python -c 'import json, sys; r = json.load(open(sys.argv[1])); print("seconds", {k: round(v, 1) for k, v in r["seconds"].items()})' "$dir/add.json"
grep -E "Maximum resident|Elapsed" "$dir/add.log"
