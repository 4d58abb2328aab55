"""``clickledger demo``: a fresh SQLite file, a sample programme, the server and live traffic."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import threading
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
import typer
from rich.console import Console

from clickledger.cli.serve import run_server
from clickledger.demo.seed import DemoProgramme, seed_programme
from clickledger.demo.traffic import TrafficSimulator
from clickledger.ids import new_id
from clickledger.runtime import Runtime
from clickledger.settings import Settings
from clickledger.store import tables as t

console = Console()


def _welcome(settings: Settings, db_path: Path, demo: DemoProgramme) -> None:
    base = f"http://{settings.host}:{settings.port}"
    console.rule("[bold]ClickLedger demo")
    console.print(f"database      {db_path}")
    console.print(f"API docs      {base}/docs")
    console.print(f"sign in       {base}/login")
    for label, (email, password) in demo.users.items():
        console.print(f"  {label:<26} {email} / {password}", soft_wrap=True, highlight=False)
    console.print(f"a click       {base}/c/{demo.link_codes['casino'][0]}?sub1=hello")
    console.print("API keys (send as 'Authorization: Bearer <key>'):")
    for label, token in demo.keys.items():
        console.print(f"  {label:<26} {token}", soft_wrap=True, highlight=False)
    console.print(f"try: curl -s -H 'Authorization: Bearer {demo.keys['manager']}' "
                  f"{base}/api/v1/affiliates", soft_wrap=True, highlight=False)
    console.print("simulated traffic is running; Ctrl+C stops the demo.")


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        port: int = typer.Option(8000, help="Port to serve on."),
        host: str = typer.Option("127.0.0.1", help="Interface to bind."),
        database: Path | None = typer.Option(
            None, help="SQLite file to create (default: a fresh file in a temporary folder)."),
        traffic_per_s: float = typer.Option(5.0, help="Simulated visitors per second (0: none)."),
        exit_after_s: float = typer.Option(0.0, help="Stop after this many seconds (0: never)."),
    ) -> None:
        """Start a demo on a fresh SQLite file with sample brands, affiliates, deals and traffic."""
        db_path = database or Path(tempfile.mkdtemp(prefix="clickledger-demo-")) / "demo.db"
        if db_path.exists():
            db_path.unlink()
        settings = Settings(
            database_url=f"sqlite:///{db_path}", secret_key=secrets.token_urlsafe(32),
            demo_mode=True, host=host, port=port, allow_loopback_targets=True,
            public_base_url=f"http://{host}:{port}",
        )
        runtime = Runtime.open(settings)
        with runtime.engine.begin() as conn:
            programme = seed_programme(conn, runtime.clock.now())
            _demo_postback_template(conn, programme, settings, runtime.clock.now())
        runtime.engine.dispose()
        _welcome(settings, db_path, programme)
        worker = _start_worker(settings)
        simulator = TrafficSimulator(f"http://{host}:{port}", programme, traffic_per_s or 1.0)
        if traffic_per_s > 0:
            simulator.start()
        if exit_after_s > 0:
            timer = threading.Timer(exit_after_s, _interrupt)
            timer.daemon = True  # a SIGTERM before it fires must not wait for it
            timer.start()
        try:
            run_server(settings)
        finally:
            simulator.stop()
            worker.terminate()
            worker.wait(timeout=30)
            events = ", ".join(f"{n} {kind}" for kind, n in sorted(simulator.stats.events.items()))
            console.print(f"demo traffic: {simulator.stats.clicks} clicks, {events or 'no events'}"
                          f", {simulator.stats.errors} errors")


def _demo_postback_template(conn: sa.Connection, demo: DemoProgramme, settings: Settings,
                            now: datetime) -> None:
    """Ace Affiliates' own tracker is played by the demo server's health endpoint."""
    conn.execute(t.postback_templates.insert().values(
        id=new_id(), affiliate_id=demo.affiliate_ids["Ace Affiliates"], kind="url",
        url_template=(f"{settings.public_base_url}/healthz?cid={{click_id}}&event={{event}}"
                      "&payout={payout}&currency={currency}"),
        status_words={}, status="active", created_at=now, updated_at=now))


def _start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    """The worker assesses fraud and delivers outbound postbacks (a separate process)."""
    env = {**os.environ, "CLICKLEDGER_SECRET_KEY": settings.secret_key,
           "CLICKLEDGER_DATABASE_URL": settings.database_url,
           "CLICKLEDGER_ALLOW_LOOPBACK_TARGETS": "true"}
    return subprocess.Popen([sys.executable, "-m", "clickledger", "worker"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _interrupt() -> None:
    import _thread  # noqa: PLC0415 - only the timed exit needs it

    _thread.interrupt_main()
