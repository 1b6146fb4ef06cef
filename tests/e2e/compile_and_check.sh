#!/usr/bin/env bash
# Compiles MODEL at SPLITS, then checks the stages two independent ways: `ppc verify` (C++,
# chains stages in-process) and check_stages.py (Python, plain torch.jit.load), both against
# the unpartitioned model. usage: compile_and_check.sh PPC PYTHON MODEL IO OUTDIR STAGES SPLITS...
# A split 'auto:N' asks the partitioner for N stages (--stages N --example-inputs IO);
# 'noshapes:N' gives no example inputs, so ppc balances parameters.
set -euo pipefail
ppc=$1 python=$2 model=$3 io=$4 out=$5 stages=$6
shift 6
args=()
for s in "$@"; do
  case "$s" in
    auto:*) args+=(--stages "${s#auto:}" --example-inputs "$io" --print-plan) ;;
    noshapes:*) args+=(--stages "${s#noshapes:}") ;; # parameter balance, with a warning
    *) args+=(--split "$s") ;;
  esac
done
here=$(cd "$(dirname "$0")/.." && pwd)
"$ppc" "$model" "${args[@]}" -o "$out" --force
"$ppc" verify "$model" "$out" --inputs "$io"
"$python" "$here/e2e/check_stages.py" "$out" "$io" --model "$model" --stages "$stages"
