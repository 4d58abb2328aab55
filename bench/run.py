"""Runs ClickLedger's performance measurements and prints one JSON object per line.

    python bench/run.py [--quick] [NAME ...]

Each ``bench/bench_*.py`` module exposes ``BENCHES``: a mapping from a group
name to a function ``(quick: bool) -> list[Result]``.  Every result carries a
baseline measured in the same run, because this machine is noisy: compare
ratios, not absolute figures.  ``NAME`` selects groups or result names.

Each group's wall time, and the CPU time it used in this process and in the
children it waited for (servers, wrk, workers), go to stderr as it ends, with
a total at the end: on a shared machine wall time overstates, CPU does not.
"""

from __future__ import annotations

import argparse
import importlib
import resource
import sys
import time
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
    began = Timing.now()
    for name in selected:
        started = Timing.now()
        results = benches[name](args.quick)
        print(f"run.py: {name} {Timing.now().since(started)}", file=sys.stderr, flush=True)
        for result in results:
            if args.names and name not in args.names and result.name not in args.names:
                continue
            print(result.to_json(), flush=True)
            failed |= not result.ok
    print(f"run.py: total {Timing.now().since(began)}", file=sys.stderr, flush=True)
    return 1 if failed else 0


class Timing:
    """Wall clock and CPU seconds (this process plus waited-for children) at one moment."""

    def __init__(self, wall_s: float, cpu_s: float, children_cpu_s: float) -> None:
        self.wall_s, self.cpu_s, self.children_cpu_s = wall_s, cpu_s, children_cpu_s

    @classmethod
    def now(cls) -> Timing:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return cls(time.perf_counter(), time.process_time(), children.ru_utime + children.ru_stime)

    def since(self, start: Timing) -> str:
        return (
            f"{self.wall_s - start.wall_s:.1f} s wall, cpu {self.cpu_s - start.cpu_s:.1f} s "
            f"here + {self.children_cpu_s - start.children_cpu_s:.1f} s in children"
        )


if __name__ == "__main__":
    raise SystemExit(main())
