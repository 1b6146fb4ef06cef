#!/usr/bin/env bash
# Trains a small byte-level GPT-2 on the King James Bible in two pipeline stages, end to end:
# the text from Debian's bible-kjv as a uint16 token file, a random-init HF GPT-2 traced with
# torchscript=True, `ppc` splitting it into 2 stages (lm_head tied to wte across them), and
# train.py on ppc's Python API under torchrun, one process (and one core) per stage.
# usage: examples/train-gpt2/run.sh [train.py options, e.g. --steps 50]   (after scripts/setup.sh)
# The environment sizes the run: BUILD_DIR (build), WORK ($BUILD_DIR/examples/train-gpt2),
# LAYERS (4), EMBD (128), HEADS (4), SEQ (128), BATCH (16), MICROBATCHES (4).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
PPC=$BUILD_DIR/tools/ppc
PY=$BUILD_DIR/python3
for f in "$PPC" "$PY"; do
  [ -x "$f" ] || { echo "run.sh: $f is missing: build ppc first (scripts/setup.sh)" >&2; exit 1; }
done
WORK=${WORK:-$BUILD_DIR/examples/train-gpt2}
LAYERS=${LAYERS:-4} EMBD=${EMBD:-128} HEADS=${HEADS:-4}
SEQ=${SEQ:-128} BATCH=${BATCH:-16} MICROBATCHES=${MICROBATCHES:-4}
HERE=examples/train-gpt2
mkdir -p "$WORK"

echo "== the KJV as byte tokens"
[ -s "$WORK/tokens.bin" ] || "$PY" $HERE/prepare_data.py "$WORK/tokens.bin"

echo "== a random-init GPT-2, traced (example inputs: one microbatch of $((BATCH / MICROBATCHES)) rows)"
"$PY" $HERE/make_model.py "$WORK/model.pt" --layers "$LAYERS" --embd "$EMBD" --heads "$HEADS" \
  --seq "$SEQ" --batch $((BATCH / MICROBATCHES)) 2> "$WORK/make_model.log" ||
  { cat "$WORK/make_model.log" >&2; exit 1; }

echo "== two stages: embeddings and the first half of the blocks | the rest and the tied head"
"$PPC" "$WORK/model.pt" --split transformer.h.$((LAYERS / 2)):begin \
  --tie transformer.wte.weight=lm_head.weight --example-inputs "$WORK/model.io.pt" \
  -o "$WORK/stages" --force

echo "== training under torchrun: 2 processes over Gloo, a stage each"
# --standalone: torchrun picks a free port, so runs beside other jobs do not collide.
"$PY" -m torch.distributed.run --standalone --nproc-per-node 2 $HERE/train.py \
  "$WORK/stages" "$WORK/tokens.bin" "$WORK" --seq "$SEQ" --batch "$BATCH" \
  --microbatches "$MICROBATCHES" "$@"
