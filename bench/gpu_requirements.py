"""`python -m bench.gpu_requirements`: every package newsqa and bench/gpu.py need, pinned to the
versions installed here, without torch and what only torch needs (a GPU machine brings its own
CUDA build). bench/gpu-wheels.sh downloads these as wheels for a machine with no network.

Pinned and listed whole (pip downloads them with --no-deps), because letting pip resolve the tree
would pull torch and its CUDA libraries, gigabytes the GPU machine already has.
"""

from __future__ import annotations

from importlib import metadata

from packaging.requirements import Requirement

ROOTS = ["newsqa", "psutil", "requests"]  # bench/gpu.py imports bench.common: psutil, requests
SKIP = {"torch"}  # the GPU machine's own
TARGET = {"python_version": "3.12", "python_full_version": "3.12.0", "sys_platform": "linux",
          "platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython",
          "platform_python_implementation": "CPython", "os_name": "posix"}


def _name(text: str) -> str:
    return text.lower().replace("_", "-").replace(".", "-")


def closure() -> dict[str, str]:
    """Installed name -> version of everything the roots require here (base requirements only)."""
    seen: dict[str, str] = {}
    todo = list(ROOTS)
    while todo:
        name = _name(todo.pop())
        if name in seen or name in SKIP:
            continue
        dist = metadata.distribution(name)
        seen[name] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({**TARGET, "extra": ""}):
                todo.append(req.name)
    return seen


def main() -> None:
    for name, version in sorted(closure().items()):
        if name != "newsqa":  # the project itself is installed from its folder
            print(f"{name}=={version}")


if __name__ == "__main__":
    main()
