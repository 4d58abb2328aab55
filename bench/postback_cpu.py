"""CPU per postback in one process, split by stage: what ``bench_postback`` cannot show.

    python bench/postback_cpu.py [--players N] [--batch ROWS] [--skip-e2e]
                                 [--profile FILE] [--sql] [--detail module:function ...]

The shared machine makes throughput figures noisy; CPU time per operation is
steadier.  On a fresh SQLite file seeded like ``bench_postback`` (a CPA deal, a
postback template, one click per player; a registration and an FTD per player):

1. **handler**: the front ASGI app (metrics included) answers every signed
   ``GET /postback`` of the list, with the group committer replaced by a stub
   that records the submission and answers at once: authentication (HMAC),
   parsing, mapping and validation, nothing written.
2. **writer**: the recorded submissions go to the real ``pipeline.Flusher`` in
   batches of ``--batch`` rows (wrk's 64 connections make batches of about 64),
   each in its own committed transaction, as the group committer runs them.
   The stages are timed by wrapping the functions the flusher calls: commission
   (``evaluate_events``), outbox (``enqueue_for_events``), rollups
   (``record_event_rollups``), fraud queue; *storing* is the rest (duplicate
   look-up, attribution reads, player and event inserts, health, commit), and
   the commit alone is shown too.
3. **end to end**: a second fresh file, the real app with its real group
   committer, ``--batch`` requests in flight at a time: CPU of the whole process.

Times are ``time.process_time`` (every thread of the process) in µs per event.
``--detail`` times named functions too (``fn:…``), ``--sql`` the driver's execution of
each statement (``sql:…``; for a SELECT only its first step, fetching is not in it).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import importlib
import inspect
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_postback import SECRET_KEY, seed, signed_paths  # noqa: E402

from clickledger.http.app import ClickLedgerApp, create_app  # noqa: E402
from clickledger.ingest import pipeline  # noqa: E402
from clickledger.ingest.hub import IngestHub  # noqa: E402
from clickledger.ingest.pipeline import Answer, Flusher, Item, Submission  # noqa: E402
from clickledger.runtime import Runtime  # noqa: E402
from clickledger.settings import Settings  # noqa: E402

STAGES = {
    "commission": "evaluate_events",
    "outbox": "enqueue_for_events",
    "rollups": "record_event_rollups",
}
STAGE_NAMES = (*STAGES, "fraud_queue")


def _runtime(database_url: str) -> Runtime:
    settings = Settings(database_url=database_url, secret_key=SECRET_KEY)
    return Runtime.open(settings, migrate_db=False)


def _paths(tmp: str, name: str, players: int) -> tuple[str, list[bytes]]:
    database_url = f"sqlite:///{tmp}/{name}.db"
    integration, click_ids = seed(database_url, players)
    path_file = Path(tmp) / f"{name}.txt"
    signed_paths(integration, click_ids, path_file)
    return database_url, [line.encode() for line in path_file.read_text().split()]


def _hub(app: ClickLedgerApp) -> IngestHub:
    handler: Any = app.hot.exact["/postback"]
    hub: IngestHub = handler.hub
    return hub


async def _call(app: ClickLedgerApp, path: bytes) -> int:
    raw_path, _, query = path.partition(b"?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": raw_path.decode(),
        "raw_path": raw_path,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _send_all(app: ClickLedgerApp, paths: Sequence[bytes], in_flight: int) -> list[int]:
    """Send every path with ``in_flight`` requests outstanding all the time (like wrk's
    connections: each sends its next request as soon as it has its answer)."""
    statuses: list[int] = [0] * len(paths)
    queue = iter(range(len(paths)))

    async def connection() -> None:
        for index in queue:
            statuses[index] = await _call(app, paths[index])

    await asyncio.gather(*(connection() for _ in range(in_flight)))
    return statuses


def measure_handler(database_url: str, paths: list[bytes]) -> tuple[float, list[Submission]]:
    """CPU µs per request of the app with a stub committer; the submissions it made."""
    runtime = _runtime(database_url)
    app = create_app(runtime)
    hub = _hub(app)
    recorded: list[Submission] = []

    async def stub(item: Item) -> Answer:
        assert isinstance(item, Submission)
        recorded.append(item)
        return Answer(
            200,
            {
                "status": "accepted",
                "event_id": str(len(recorded)),
                "txn_id": item.valid.event.txn_id,
            },
        )

    async def main() -> float:
        await asyncio.to_thread(hub.directory.reload)
        hub._submit = stub  # type: ignore[method-assign]
        await _send_all(app, paths[:256], 64)  # warm-up
        recorded.clear()
        hub.duplicates = type(hub.duplicates)()
        gc.collect()
        gc.freeze()  # as the server does after start-up: long-lived objects leave the scans
        started = time.process_time()
        statuses = await _send_all(app, paths, 64)
        spent = time.process_time() - started
        assert set(statuses) == {200}, set(statuses)
        return spent

    spent = asyncio.run(main())
    runtime.engine.dispose()
    return spent / len(paths) * 1e6, recorded


class _Timed:
    """Wraps the flusher's stage functions (names in ``pipeline``) with CPU counters."""

    def __init__(self, detail: Sequence[str] = ()) -> None:
        self.spent = dict.fromkeys(STAGE_NAMES, 0.0)
        self.detail = detail
        self._saved: list[tuple[Any, str, Any]] = []

    def _wrap(self, owner: Any, name: str, stage: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[stage] += time.process_time() - started

        static = isinstance(inspect.getattr_static(owner, name), staticmethod)
        self._saved.append((owner, name, inspect.getattr_static(owner, name)))
        setattr(owner, name, staticmethod(timed) if static else timed)

    def __enter__(self) -> _Timed:
        for stage, name in STAGES.items():
            self._wrap(pipeline, name, stage)
        self._wrap(pipeline.fraud_queue, "enqueue", "fraud_queue")
        for target in self.detail:  # "module:attribute" or "module:Class.method"
            module_name, _, name = target.partition(":")
            owner: Any = importlib.import_module(module_name)
            *path, attribute = name.split(".")
            for part in path:
                owner = getattr(owner, part)
            self.spent["fn:" + name] = 0.0
            self._wrap(owner, attribute, "fn:" + name)
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)


def _time_sql(runtime: Runtime, spent: dict[str, float]) -> None:
    """Time the driver's own execution of each statement, by its first words."""
    dialect: Any = runtime.engine.dialect
    for name in ("do_execute", "do_executemany", "do_execute_no_params"):
        original = getattr(dialect, name)

        def timed(cursor: Any, statement: str, *args: Any, _original: Any = original) -> Any:
            started = time.process_time()
            try:
                return _original(cursor, statement, *args)
            finally:
                key = "sql:" + "_".join(statement[:64].split())
                spent[key] = spent.get(key, 0.0) + time.process_time() - started

        setattr(dialect, name, timed)


def measure_writer(
    database_url: str,
    subs: list[Submission],
    batch: int,
    profile: cProfile.Profile | None,
    detail: Sequence[str] = (),
    sql: bool = False,
) -> dict[str, float]:
    """CPU µs per event of the flusher, by stage."""
    runtime = _runtime(database_url)
    flusher = Flusher(runtime.clock, runtime.settings.attribution_window_days)

    committing = [0.0]
    sql_spent: dict[str, float] = {}
    if sql:
        _time_sql(runtime, sql_spent)

    def run(items: Sequence[Submission]) -> None:
        for start in range(0, len(items), batch):
            with runtime.engine.connect() as conn:
                transaction = conn.begin()
                answers = flusher(conn, items[start : start + batch])
                started = time.process_time()
                transaction.commit()
                committing[0] += time.process_time() - started
            assert all(a is not None and a.http_status == 200 for a in answers)

    run(subs[:256])  # warm-up: statements compiled, caches filled
    committing[0] = 0.0
    sql_spent.clear()
    rest = subs[256:]
    with _Timed(detail) as timed:
        if profile is not None:
            profile.enable()
        started = time.process_time()
        run(rest)
        total = time.process_time() - started
        if profile is not None:
            profile.disable()
    runtime.engine.dispose()
    per = {stage: spent / len(rest) * 1e6 for stage, spent in timed.spent.items()}
    per["storing"] = total / len(rest) * 1e6 - sum(per[stage] for stage in STAGE_NAMES)
    per["of_which_commit"] = committing[0] / len(rest) * 1e6
    per.update({k: v / len(rest) * 1e6 for k, v in sorted(sql_spent.items())})
    per["writer_total"] = total / len(rest) * 1e6
    return per


def measure_end_to_end(
    database_url: str, paths: list[bytes], in_flight: int
) -> tuple[float, float]:
    """CPU µs per request of the real app and committer; the mean rows per batch."""
    runtime = _runtime(database_url)
    app = create_app(runtime)

    stats = _hub(app).committer.stats

    async def main() -> float:
        for start in app.hot.on_startup:
            await start()
        try:
            await _send_all(app, paths[:256], in_flight)
            batches, rows = stats.batches, stats.rows
            started = time.process_time()
            statuses = await _send_all(app, paths[256:], in_flight)
            spent = time.process_time() - started
            sizes.append((stats.rows - rows) / max(1, stats.batches - batches))
        finally:
            for stop in app.hot.on_shutdown:
                await stop()
        assert set(statuses) == {200}, set(statuses)
        return spent

    sizes: list[float] = []
    spent = asyncio.run(main())
    runtime.engine.dispose()
    return spent / (len(paths) - 256) * 1e6, sizes[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--profile", type=Path, help="write the writer's cProfile stats here")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument(
        "--sql", action="store_true", help="also time each statement's execution in the driver"
    )
    parser.add_argument(
        "--detail",
        nargs="*",
        default=(),
        help="also time these functions (module:name), e.g. "
        "clickledger.outbound.enqueue:_load_events",
    )
    args = parser.parse_args(argv)
    profile = cProfile.Profile() if args.profile else None
    with tempfile.TemporaryDirectory() as tmp:
        database_url, paths = _paths(tmp, "stages", args.players)
        handler_us, subs = measure_handler(database_url, paths)
        writer = measure_writer(database_url, subs, args.batch, profile, args.detail, args.sql)
        figures = {"events": float(len(paths)), "handler": handler_us, **writer}
        if not args.skip_e2e:
            e2e_url, e2e_paths = _paths(tmp, "e2e", args.players)
            figures["end_to_end"], figures["e2e_rows_per_batch"] = measure_end_to_end(
                e2e_url, e2e_paths, args.batch
            )
    if profile is not None:
        profile.dump_stats(str(args.profile))
    report: Callable[[str, float], str] = lambda k, v: f"{k}={v:.1f}"  # noqa: E731
    print(" ".join(report(k, v) for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
