#!/usr/bin/env bash
# The GPT-2 walk-through (the README's demo runs it after setup): compile a real GPT-2 export
# into pipeline stages, inspect the partitioned IR, check that the stages reproduce the model,
# run them with pprun (inference, then a few training steps checked against PyTorch autograd).
# usage: examples/gpt2/run.sh   (after scripts/setup.sh; BUILD_DIR defaults to build)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
PPC=$BUILD_DIR/tools/ppc
PPRUN=$BUILD_DIR/tools/pprun
MODEL=tests/data/gpt2-tiny-lm.pt
IO=tests/data/gpt2-tiny-lm.io.pt
OUT=$BUILD_DIR/demo/stages
mkdir -p "$BUILD_DIR/demo"
PY=$BUILD_DIR/python3

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Compile $MODEL into 3 stages"
"$PPC" "$MODEL" --split transformer.h.1:begin,transformer.h.3:begin --example-inputs "$IO" \
  --tie transformer.wte.weight=lm_head.weight -o "$OUT" --force

step "Stage table, the partitioned IR's stage boundaries, cross-stage values (ppc inspect)"
"$PPC" inspect "$OUT" > "$BUILD_DIR/demo/inspect.txt"
sed -n '1,/^$/p' "$BUILD_DIR/demo/inspect.txt"
grep -v '^  \(modules\|const\|param\) ' "$BUILD_DIR/demo/inspect.txt" | grep -B2 -A3 '^stage [0-9]*:' || true
echo "  ... (full IR: $BUILD_DIR/demo/inspect.txt)"
sed -n '/^cross-stage values:/,$p' "$BUILD_DIR/demo/inspect.txt"

step "The stages reproduce the unpartitioned model (ppc verify)"
"$PPC" verify "$MODEL" "$OUT" --inputs "$IO"

if [ -x "$PPRUN" ]; then
  step "Pipelined inference: 3 stages, 2 microbatches, 1F1B, a thread per stage (pprun)"
  "$PPRUN" "$OUT" --inputs "$IO" --microbatches 2 --schedule 1f1b --output "$BUILD_DIR/demo/out.pt"
  "$PY" - "$BUILD_DIR/demo/out.pt" "$IO" <<'PYEOF'
import sys, torch
got, ref = torch.load(sys.argv[1]), torch.load(sys.argv[2])["outputs"]
def flat(x): return [y for e in x for y in flat(e)] if isinstance(x, (tuple, list)) else [x]
d = max((a - b).abs().max().item() for a, b in zip(flat(got), flat(ref)))
print(f"pprun outputs vs the unpartitioned model: max abs diff {d:.2e}")
sys.exit(0 if d <= 1e-5 else 1)
PYEOF
  step "Three training steps (SGD, whole-batch mean cross-entropy) with pprun"
  "$PY" -c "import torch; torch.manual_seed(0); torch.save(torch.randint(0, 1000, (2, 16)), '$BUILD_DIR/demo/targets.pt')"
  "$PPRUN" "$OUT" --inputs "$IO" --microbatches 2 --schedule 1f1b --train \
    --targets "$BUILD_DIR/demo/targets.pt" --loss cross_entropy --optimizer sgd --lr 0.1 --steps 3 \
    --save-grads "$BUILD_DIR/demo/grads.pt" \
    --trace "$BUILD_DIR/demo/trace.json" --report "$BUILD_DIR/demo/report.json"
  "$PY" - "$MODEL" "$IO" "$BUILD_DIR/demo/targets.pt" "$BUILD_DIR/demo/grads.pt" <<'PYEOF'
import sys, torch
model, io, targets, grads = sys.argv[1:5]
m = torch.jit.load(model)
out = m(*torch.load(io)["inputs"])[0]
t = torch.load(targets)
torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), t.reshape(-1)).backward()
ref = {n: p.grad for n, p in m.named_parameters()}
# --tie made wte and lm_head one parameter: its gradient is the sum of both uses.
tied = ref["transformer.wte.weight"] + ref["lm_head.weight"]
ref["transformer.wte.weight"] = ref["lm_head.weight"] = tied
got = torch.load(grads)
d = max((got[n] - g).abs().max().item() / g.abs().max().item() for n, g in ref.items())
print(f"pprun step-1 gradients vs PyTorch autograd on the whole model: max rel diff {d:.1e}")
sys.exit(0 if d <= 1e-4 else 1)
PYEOF
  echo "trace: $BUILD_DIR/demo/trace.json (open it in Perfetto), report: $BUILD_DIR/demo/report.json"
fi
step "Done"
