#!/usr/bin/env bash
# Custom schedules: an action list per rank in a text file, run by the same executor as the
# built-in schedules. Two valid lists train GPT-2 in 2 stages and give the gradients of the
# built-in gpipe schedule; a list that would deadlock is refused before anything runs.
# usage: examples/custom-schedule/run.sh   (after scripts/setup.sh; BUILD_DIR defaults to build)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
PPC=$BUILD_DIR/tools/ppc
PPRUN=$BUILD_DIR/tools/pprun
PY=$BUILD_DIR/python3
HERE=examples/custom-schedule
WORK=$BUILD_DIR/examples/custom-schedule
MODEL=tests/data/gpt2-tiny-lm.pt
mkdir -p "$WORK"

"$PPC" "$MODEL" --split transformer.h.2:begin -o "$WORK/stages" --force
"$PY" - "$WORK" <<'PYEOF'
import sys, torch
torch.manual_seed(0)
torch.save({"inputs": (torch.randint(0, 1000, (4, 16)),)}, f"{sys.argv[1]}/io.pt")
torch.save(torch.randint(0, 1000, (4, 16)), f"{sys.argv[1]}/targets.pt")
PYEOF
train() {
  "$PPRUN" "$WORK/stages" --inputs "$WORK/io.pt" --microbatches 4 --schedule "$1" --train \
    --targets "$WORK/targets.pt" --loss cross_entropy --save-grads "$2"
}
echo "== the schedule file, as pprun reads it"
"$PPRUN" "$WORK/stages" --inputs "$WORK/io.pt" --microbatches 4 --schedule "$HERE/eager-1f1b.txt" \
  --train --targets "$WORK/targets.pt" --print-schedule
echo "== training with the built-in gpipe and with both files"
train gpipe "$WORK/gpipe.grads.pt"
train "$HERE/gpipe-by-hand.txt" "$WORK/by-hand.grads.pt"
train "$HERE/eager-1f1b.txt" "$WORK/eager.grads.pt"
"$PY" - "$WORK" <<'PYEOF'
import sys, torch
w = sys.argv[1]
ref = torch.load(f"{w}/gpipe.grads.pt")
for name in ("by-hand", "eager"):
    got = torch.load(f"{w}/{name}.grads.pt")
    d = max((got[n] - g).abs().max().item() for n, g in ref.items())
    print(f"{name}: gradients vs built-in gpipe: max abs diff {d:.1e}")
    assert d <= 1e-6
PYEOF
echo "== a list that would deadlock is refused"
if "$PPRUN" "$WORK/stages" --inputs "$WORK/io.pt" --microbatches 2 --schedule "$HERE/deadlock.txt" \
    --train --targets "$WORK/targets.pt" 2> "$WORK/deadlock.err"; then
  echo "FAIL: the deadlocking schedule ran"; exit 1
fi
cat "$WORK/deadlock.err"
