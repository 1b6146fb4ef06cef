#!/usr/bin/env bash
# Runs the `; RUN:` lines of an IR test file, lit-style: `ppc`, `FileCheck` and `%s` (the file)
# are substituted, and each line runs as a pipeline that fails if any part fails.
# usage: run_ir_test.sh PPC FILECHECK FILE.ir
set -euo pipefail
ppc=$1 filecheck=$2 file=$3
runs=$(sed -n 's/^; RUN: //p' "$file")
[ -n "$runs" ] || { echo "FAIL: $file has no '; RUN:' line"; exit 1; }
while IFS= read -r line; do
  cmd=${line//%s/$file}
  cmd=${cmd//FileCheck/$filecheck}
  cmd=$(sed -E "s#(^|[|(] *)ppc #\1$ppc #g" <<< "$cmd")
  echo "RUN: $cmd"
  bash -o pipefail -c "$cmd"
done <<< "$runs"
