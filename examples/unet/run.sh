#!/usr/bin/env bash
# A U-Net in four stages: the encoder's outputs d1 and d2 are sent from their producer stage
# straight to the decoder stages that concatenate them (skip edges, never relayed), drawn with
# --dot. Then the stages are checked against the model and run with pprun.
# usage: examples/unet/run.sh   (after scripts/setup.sh; BUILD_DIR defaults to build)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
PPC=$BUILD_DIR/tools/ppc
PPRUN=$BUILD_DIR/tools/pprun
PY=$BUILD_DIR/python3
WORK=$BUILD_DIR/examples/unet
mkdir -p "$WORK"

echo "== a scripted U-Net and a batch of 4 images"
"$PY" examples/unet/make_unet.py "$WORK/unet.pt" "$WORK/unet.io.pt"

echo "== four stages: encoder, bottom, two decoder halves"
"$PPC" "$WORK/unet.pt" --split down3:begin,up3:begin,up2:begin --example-inputs "$WORK/unet.io.pt" \
  --dot "$WORK/unet.dot" -o "$WORK/stages" --force

echo "== stage table and the values that cross stages"
"$PPC" inspect "$WORK/stages" > "$WORK/inspect.txt"
sed -n '1,/^$/p' "$WORK/inspect.txt"
sed -n '/^cross-stage values:/,$p' "$WORK/inspect.txt"

echo "== the picture (Graphviz; dashed blue edges are skips): $WORK/unet.dot"
cat "$WORK/unet.dot"
if command -v dot > /dev/null; then dot -Tsvg "$WORK/unet.dot" -o "$WORK/unet.svg" && echo "drawn: $WORK/unet.svg"; fi

echo "== the stages reproduce the model"
"$PPC" verify "$WORK/unet.pt" "$WORK/stages" --inputs "$WORK/unet.io.pt"

echo "== pipelined inference, 4 microbatches, 1F1B"
"$PPRUN" "$WORK/stages" --inputs "$WORK/unet.io.pt" --microbatches 4 --schedule 1f1b \
  --output "$WORK/out.pt"
"$PY" - "$WORK/unet.pt" "$WORK/unet.io.pt" "$WORK/out.pt" <<'PYEOF'
import sys, torch
model, io, out = sys.argv[1:4]
x = torch.load(io)["inputs"]
with torch.no_grad():
    want = torch.jit.load(model)(*x)
got = torch.load(out)[0]
d = (got - want).abs().max().item()
print(f"pprun output vs the unpartitioned model: max abs diff {d:.2e}")
sys.exit(0 if d <= 1e-5 else 1)
PYEOF
