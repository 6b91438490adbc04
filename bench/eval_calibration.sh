#!/usr/bin/env bash
# The evaluation and calibration figures of bench/EVAL_CALIBRATION.md: calibrate the
# reference model on SciFact (fit on 70% of the queries, report on the held-out 30%),
# then measure the map on TREC DL 2019 and on XQuAD-R (other domains, other languages).
# Documents are truncated to the model window (--max-chunks-per-doc 1), as the model was
# trained and as its published figures were measured.
# Usage: bench/eval_calibration.sh [OUT_DIR]   (about 10 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-bench/results/eval}"
data="${OPENRERANK_DATA:-../shared/data}"
model="openrerank/minilm-l6-scifact-ce"
export HF_HUB_CACHE="${HF_HUB_CACHE:-../shared/hf-cache}" HF_HUB_OFFLINE=1
mkdir -p "$out"
or=".venv/bin/openrerank"

# Fit on SciFact: BM25 top-20 (built-in).
$or calibrate --model "$model" --dataset "$data/beir-scifact" --k 20 --max-chunks-per-doc 1 \
    --out "$out/scifact-calibration.json" --json > "$out/calibrate-scifact.json"

# Another domain: TREC DL 2019, the shared BM25 top-100.
$or eval --model "$model" --dataset "$data/trec-dl-2019-passage" \
    --run "$data/trec-dl-2019-passage/run/bm25_top100.tsv" \
    --max-chunks-per-doc 1 --calibration "$out/scifact-calibration.json" \
    --json > "$out/eval-dl19.json"

# Other languages: XQuAD-R, first 50 questions, built-in BM25 top-10 per language.
for lang in ar de el en es hi ru th tr vi zh; do
    $or eval --model "$model" --dataset "$data/xquad-r/$lang" --language "$lang" \
        --k 10 --max-queries 50 --max-chunks-per-doc 1 --calibration "$out/scifact-calibration.json" \
        --json > "$out/eval-xquad-$lang.json"
done
