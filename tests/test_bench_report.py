"""The bench's build part as the report shows it, and its command line refusing what it cannot run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench import report
from bench.common import ROOT

ROUND = {"articles": 200, "chunks": 2883, "build_s": 183.2, "build_chunks_per_s": 15.7, "raw_chunks_per_s": 16.9,
         "ratio": 0.93, "build_cpu_s": 325.7, "raw_cpu_s": 307.2, "cpu_ratio": 0.943}
WHEN = {"at": "2026-11-27T07:00:32", "command": "python -m bench", "load_before": [0.5], "load_after": [1.4]}


def test_every_rounds_ratio_is_shown_and_the_median_round_judged():
    lines = report._build({"build": {**ROUND, "rounds": [{"ratio": 0.93, "cpu_ratio": 0.943},
                                                          {"ratio": 0.787, "cpu_ratio": 0.829},
                                                          {"ratio": 0.936, "cpu_ratio": 0.943}]}})
    text = "\n".join(lines)
    assert "0.93 (0.943); 0.787 (0.829); 0.936 (0.943)" in text
    assert "| 0.93 (**not met**) |" in text  # 0.93 < 0.95
    single = "\n".join(report._build({"build": ROUND}))
    assert "rounds" not in single and "allocator" not in single


def test_a_floor_with_the_builds_allocator_setting_says_so():
    text = "\n".join(report._build({"build": {**ROUND, "raw_reused_memory": True}}))
    assert "Bare encode ran with the allocator setting the build's encoding runs under" in text


def test_sizes_measured_by_one_run_share_one_line():
    stamped = report._when({"when": {"scale 100000": WHEN, "scale 1000000": WHEN}}, "scale")
    assert stamped.count("_measured 2026-11-27T07:00:32") == 1


@pytest.mark.parametrize("rounds", ["0", "-2", "two"])
def test_rounds_below_one_are_refused_before_any_work(rounds):
    run = subprocess.run([sys.executable, "-m", "bench", "--only", "build", "--rounds", rounds], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert f"argument --rounds: must be a whole number of 1 or more, not {rounds!r}" in run.stderr
