"""The project's own rules, checked with the suite: ruff and mypy clean, and the domain core
imports no I/O (the import-linter contract in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing() -> None:
    result = _run(sys.executable, "-m", "ruff", "check", "src", "tests", "bench")
    assert result.returncode == 0, result.stdout[-4000:]


@pytest.mark.slow
def test_mypy_strict_finds_nothing() -> None:
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout[-4000:]


def test_the_domain_core_imports_no_io() -> None:
    lint_imports = shutil.which("lint-imports")
    assert lint_imports, "import-linter is a test dependency"
    result = _run(lint_imports)
    assert result.returncode == 0, result.stdout[-4000:]
