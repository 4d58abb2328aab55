"""Runs ClickLedger's performance measurements and prints one JSON object per line.

    python bench/run.py [--quick] [NAME ...]

Each ``bench/bench_*.py`` module exposes ``BENCHES``: a mapping from a group
name to a function ``(quick: bool) -> list[Result]``.  Every result carries a
baseline measured in the same run, because this machine is noisy: compare
ratios, not absolute figures.  ``NAME`` selects groups or result names.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from common import Result  # noqa: E402

BenchFn = Callable[[bool], list[Result]]


def discover() -> dict[str, BenchFn]:
    found: dict[str, BenchFn] = {}
    for path in sorted(HERE.glob("bench_*.py")):
        module = importlib.import_module(path.stem)
        found.update(module.BENCHES)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (< 3 minutes in all)")
    parser.add_argument("names", nargs="*", help="bench groups or result names to run")
    args = parser.parse_args(argv)
    benches = discover()
    selected = [n for n in benches if not args.names or n in args.names] or list(benches)
    if args.names and not any(n in benches for n in args.names):
        selected = list(benches)  # names may be result names: run all, filter output
    failed = False
    for name in selected:
        for result in benches[name](args.quick):
            if args.names and name not in args.names and result.name not in args.names:
                continue
            print(result.to_json(), flush=True)
            failed |= not result.ok
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
