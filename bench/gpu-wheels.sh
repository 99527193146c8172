#!/usr/bin/env bash
# Here, where PyPI is reachable: download into DIR the wheels that bench/gpu.sh installs on a GPU
# machine with no network: every package newsqa (and the bench's GPU part) needs, pinned to this
# venv's versions, except torch (the GPU machine has its CUDA build), for CPython 3.12 on
# manylinux x86-64. Usage: bench/gpu-wheels.sh DIR
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: bench/gpu-wheels.sh DIR   (then copy DIR to the GPU machine and run bench/gpu.sh DIR there)" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
mkdir -p "$1"
reqs=$(mktemp)
trap 'rm -f "$reqs"' EXIT
"$PY" -m bench.gpu_requirements > "$reqs"
echo "setuptools>=68" >> "$reqs"  # the build backend, so `pip install -e .` works with no index
# --no-deps: the list is already the whole tree; resolving it again would pull torch and CUDA.
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux2014_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64 \
  --dest "$1" -r "$reqs"
echo "bench/gpu-wheels.sh: $(ls "$1" | wc -l) wheels, $(du -sh "$1" | cut -f1), in $1"
