"""CPU per outbox delivery, on both sides of the wire: what ``bench_outbox`` cannot show.

    python bench/outbox_cpu.py [--count N] [--concurrency N] [--uvloop]
                               [--profile FILE] [--skip-raw]

The shared machine makes deliveries/s noisy; CPU time per delivery is steadier.
Against the same local receiver as ``bench_outbox`` (raw ASGI on uvicorn, in
its own process):

1. **raw**: bare httpx GETs (one AsyncClient, ``--concurrency`` in flight):
   CPU per request here and in the receiver, and requests/s.
2. **dispatch**: a fresh SQLite outbox of ``--count`` due rows drained by the
   real ``Dispatcher`` (claims, SSRF checks, sending, attempt records): CPU per
   delivery here (every thread: the database work runs in threads) and in the
   receiver, and deliveries/s.

Receiver CPU comes from ``/proc/<pid>/stat`` (user + system).  ``--profile``
writes a cProfile (CPU time) of the dispatch stage (event loop thread only);
``--uvloop`` runs both stages on uvloop instead of asyncio.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import httpx  # noqa: E402
import uvloop  # noqa: E402
from bench_outbox import RECEIVER, _seed, _wait_for_port  # noqa: E402
from common import free_port  # noqa: E402

from clickledger.clock import SystemClock  # noqa: E402
from clickledger.outbound.dispatcher import Dispatcher  # noqa: E402
from clickledger.store.engine import create_engine  # noqa: E402

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


async def _raw(base: str, count: int, concurrency: int) -> None:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=15.0, trust_env=False) as client:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(count):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                (await client.get(f"{base}/pb?tid={i}")).raise_for_status()

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _dispatch(url: str, concurrency: int, profile: cProfile.Profile | None) -> int:
    engine = create_engine(url)
    async with Dispatcher(engine, SystemClock(), allow_loopback=True,
                          concurrency=concurrency) as dispatcher:
        if profile is not None:
            profile.enable()
        await dispatcher.run_until_idle()
        if profile is not None:
            profile.disable()
    engine.dispose()
    return dispatcher.delivered


def _measure(label: str, receiver_pid: int, count: int,
             run: Callable[[], Awaitable[object]], use_uvloop: bool) -> None:
    cpu, peer, wall = time.process_time(), _cpu_of(receiver_pid), time.perf_counter()
    if use_uvloop:
        uvloop.run(run())  # type: ignore[arg-type]
    else:
        asyncio.run(run())  # type: ignore[arg-type]
    wall = time.perf_counter() - wall
    cpu, peer = time.process_time() - cpu, _cpu_of(receiver_pid) - peer
    print(f"{label:9s} {count:6d}  {count / wall:8.0f}/s  here {cpu / count * 1e6:6.0f} µs"
          f"  receiver {peer / count * 1e6:5.0f} µs  (wall {wall:.2f} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--skip-raw", action="store_true")
    parser.add_argument("--profile", help="write a cProfile of the dispatch stage here")
    args = parser.parse_args()
    port = free_port()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    try:
        _wait_for_port(port)
        base = f"http://127.0.0.1:{port}"
        asyncio.run(_raw(base, 500, args.concurrency))  # warm up both sides
        if not args.skip_raw:
            _measure("raw", receiver.pid, args.count,
                     lambda: _raw(base, args.count, args.concurrency), args.uvloop)
        profile = cProfile.Profile(time.process_time) if args.profile else None
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            _seed(url, base, args.count)
            _measure("dispatch", receiver.pid, args.count,
                     lambda: _dispatch(url, args.concurrency, profile), args.uvloop)
        if profile is not None:
            profile.dump_stats(args.profile)
    finally:
        receiver.terminate()
        receiver.wait(10)


if __name__ == "__main__":
    main()
