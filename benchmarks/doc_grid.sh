#!/usr/bin/env bash
# The sample grids in docs/quality/: 16 images (seeds 0-15) of a run's final generator, in a 4 x 4 grid
# that carries ganvas's provenance metadata like every image it writes.
#
#   benchmarks/doc_grid.sh RUN_DIR NAME     # writes docs/quality/NAME.png
set -eu -o pipefail
cd "$(dirname "$0")/.."
RUN=${1:?usage: doc_grid.sh RUN_DIR NAME}
NAME=${2:?usage: doc_grid.sh RUN_DIR NAME}
PY=${PYTHON:-python}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$PY" -m ganvas generate "$RUN" --seeds 0-15 --grid --out "$TMP" >/dev/null
mkdir -p docs/quality
cp "$TMP/grid.png" "docs/quality/$NAME.png"
echo "docs/quality/$NAME.png"
