#!/usr/bin/env bash
# The evaluation and calibration figures of bench/EVAL_CALIBRATION.md: calibrate the
# reference model on SciFact (fit on 70% of the queries, report on the held-out 30%),
# then measure the map on TREC DL 2019 and on XQuAD-R (other domains, other languages).
# Usage: bench/eval_calibration.sh [OUT_DIR]   (about 15 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-bench/results/eval}"
data="${OPENRERANK_DATA:-../shared/data}"
model="openrerank/minilm-l6-scifact-ce"
export HF_HUB_CACHE="${HF_HUB_CACHE:-../shared/hf-cache}" HF_HUB_OFFLINE=1
mkdir -p "$out"
or=".venv/bin/openrerank"

# Fit on SciFact: BM25 top-20 (built-in), the serving defaults (windows, max).
$or calibrate --model "$model" --dataset "$data/beir-scifact" --k 20 \
    --out "$out/scifact-calibration.json" --json > "$out/calibrate-scifact.json"

# Another domain: TREC DL 2019, the shared BM25 top-100.
$or eval --model "$model" --dataset "$data/trec-dl-2019-passage" \
    --run "$data/trec-dl-2019-passage/run/bm25_top100.tsv" \
    --calibration "$out/scifact-calibration.json" --json > "$out/eval-dl19.json"

# Other languages: XQuAD-R, first 100 questions, built-in BM25 top-20 per language.
for lang in ar de el en es hi ru th tr vi zh; do
    $or eval --model "$model" --dataset "$data/xquad-r/$lang" --language "$lang" \
        --k 20 --max-queries 100 --calibration "$out/scifact-calibration.json" \
        --json > "$out/eval-xquad-$lang.json"
done
