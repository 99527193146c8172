#!/usr/bin/env bash
# One run on a GPU machine with no network: bench/gpu.sh WHEELS [MULTIHOP_DIR]
#
# Uses the python3 already there, which holds a CUDA build of torch and sentence-transformers (it
# installs no torch; PYTHON=... picks another interpreter), installs the project's other
# dependencies from WHEELS (made by bench/gpu-wheels.sh where PyPI is reachable) into that python's
# venv or conda environment (for a system python: into a throwaway venv that sees its packages),
# builds the MultiHop-RAG index with model.device: cuda,
# and prints the build's chunks/s, bare `encode` chunks/s on that GPU, and the quality figures, as
# JSON. The run is capped at 10 minutes. MULTIHOP_DIR defaults to ../shared/eval/multihop-rag.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "bench/gpu.sh: $1" >&2; exit "${2:-2}"; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  die "usage: bench/gpu.sh WHEELS [MULTIHOP_DIR]   (WHEELS: a folder made by bench/gpu-wheels.sh)"
fi
WHEELS=$(realpath -m "$1")
MULTIHOP=$(realpath -m "${2:-$ROOT/../shared/eval/multihop-rag}")
PY=${PYTHON:-python3}
[ -d "$WHEELS" ] || die "no wheel folder at $WHEELS (make it with bench/gpu-wheels.sh where PyPI is reachable)"
[ -f "$MULTIHOP/corpus.json" ] && [ -f "$MULTIHOP/MultiHopRAG.json" ] \
  || die "no MultiHop-RAG corpus.json and MultiHopRAG.json in $MULTIHOP (give its folder as the second argument)"
"$PY" - <<'PYEOF' || exit 3
import sys
try:
    import torch
except ImportError:
    sys.exit(f"bench/gpu.sh: {sys.executable} has no torch; it needs a CUDA build of torch")
if not torch.cuda.is_available():
    sys.exit(f"bench/gpu.sh: torch {torch.__version__} in {sys.executable} sees no CUDA GPU")
PYEOF
"$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' \
  || die "the wheels are for Python 3.12 and $("$PY" -c 'import sys; print(sys.executable, sys.version.split()[0])') is not"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
RUN=$PY
if ! "$PY" -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)'; then
  # A system python: a venv seeing its site-packages (its torch), so nothing is installed into it.
  "$PY" -m venv --system-site-packages "$TMP/venv"
  RUN=$TMP/venv/bin/python
fi
# Only what is missing or too old comes from WHEELS: the interpreter's torch satisfies the rest.
"$RUN" -m pip install --quiet --no-index --find-links "$WHEELS" -e "$ROOT" psutil requests
cd "$ROOT"
START=$SECONDS
timeout $((600 - 30)) "$RUN" -m bench.gpu "$MULTIHOP"
echo "bench/gpu.sh: done in $((SECONDS - START)) s after the install" >&2
