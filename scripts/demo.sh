#!/usr/bin/env bash
# The README's demo: set up (install what is missing, build), then run the GPT-2 walk-through in
# examples/gpt2/ (compile into stages, inspect, verify, pipelined inference and training).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
scripts/setup.sh "$BUILD_DIR"
BUILD_DIR=$BUILD_DIR examples/gpt2/run.sh
