#!/usr/bin/env bash
# `ppc inspect` shows the stage table and the partitioned IR of a compiled directory (GPT-2's
# layer-0 key/value pair skips stage 1 to reach the output tuple on stage 2), and
# `--dot` draws skip edges straight from producer to consumer.
# usage: inspect_test.sh PPC MODEL OUTDIR
set -euo pipefail
ppc=$1 model=$2 out=$3
"$ppc" "$model" --split transformer.h.1:begin,transformer.h.3:begin -o "$out" --force 2>/dev/null
"$ppc" inspect "$out" --dot "$out/stages.dot" > "$out/inspect.txt"
fail() { echo "FAIL: $*"; exit 1; }
grep -q '^stage     ops   params' "$out/inspect.txt" || fail "no stage table"
[ "$(grep -c '^[0-2] ' "$out/inspect.txt")" -eq 3 ] || fail "stage table does not have 3 rows"
grep -q '^stage 2:' "$out/inspect.txt" || fail "IR not grouped by stage"
grep -q '@transformer.h.3.attn.c_attn' "$out/inspect.txt" || fail "ops lack module paths"
grep -Eq '^  %[A-Za-z_][A-Za-z0-9_.]* : Tuple\[Tensor,Tensor\]  stage 0 -> 2  skip$' "$out/inspect.txt" || fail "no skip edge listed"
grep -Eq 'stage0 -> stage2 \[label=.*style=dashed' "$out/stages.dot" || fail "dot lacks the skip edge"
echo "ok: inspect shows 3 stages, the IR by stage and skip edges; the dot file draws them"
