"""The README's Quick start keeps its promise: the two commands, and .ci/run runs the second."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _quick_start_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [b.strip() for b in re.findall(r"```(?:sh|bash|shell)\n(.*?)```", section, re.S)]


def test_quick_start_has_the_demo_command_then_the_test_command() -> None:
    blocks = _quick_start_blocks()
    assert len(blocks) >= 2
    assert "clickledger demo" in blocks[0]
    assert "pytest" in blocks[1] and "[test]" in blocks[1]


def test_ci_runs_exactly_the_second_command() -> None:
    ci_script = (ROOT / ".ci" / "run").read_text()
    second = _quick_start_blocks()[1]
    assert second in ci_script.splitlines()
