"""``clickledger send-event``: fire one signed test event at a server and print its answer.

An operator's developer uses it to check an integration end to end (key id,
secret, clock, allowlist, field names) before wiring their own platform.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode, urlsplit

import httpx
import typer
from rich.console import Console

from clickledger.ingest import signatures

console = Console()
TIMEOUT_S = 15.0


def signed_url(base_url: str, key_id: str, secret: str, params: dict[str, str],
               now_s: int | None = None) -> str:
    """``base_url``/postback with ``params`` and its cl_key, cl_ts and cl_sig."""
    ts = str(now_s if now_s is not None else int(time.time()))
    path = urlsplit(base_url).path.rstrip("/") + "/postback"
    query = urlencode({**params, "cl_key": key_id, "cl_ts": ts})
    sig = signatures.sign(secret, ts, "GET", path, query, b"")
    return f"{base_url.rstrip('/')}/postback?{query}&cl_sig={sig}"


def _extra(pairs: list[str]) -> dict[str, str]:
    extra: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"--param needs name=value, got {pair!r}")
        extra[name] = value
    return extra


def register(app: typer.Typer) -> None:
    @app.command("send-event")
    def send_event(
        url: str = typer.Option(..., help="Server base URL, e.g. http://127.0.0.1:8000"),
        key: str = typer.Option(..., help="Integration key id"),
        secret: str = typer.Option(..., help="Integration signing secret"),
        event: str = typer.Option("registration", help="registration, ftd, deposit, …"),
        txn_id: str = typer.Option(..., "--txn-id", help="Your unique id for this event"),
        user_id: str = typer.Option(..., "--user-id", help="Your player id"),
        amount: str | None = typer.Option(None, help="Amount, e.g. 25.00"),
        currency: str | None = typer.Option(None, help="ISO-4217 code, e.g. EUR"),
        click_id: str | None = typer.Option(None, "--click-id"),
        promo: str | None = typer.Option(None),
        param: list[str] = typer.Option([], help="Extra name=value, repeatable"),
    ) -> None:
        """Send one signed GET /postback and print the answer (exit 1 unless accepted/duplicate)."""
        params = {"event": event, "txn_id": txn_id, "user_id": user_id}
        optional = {"amount": amount, "currency": currency, "click_id": click_id, "promo": promo}
        params.update({k: v for k, v in optional.items() if v is not None})
        params.update(_extra(param))
        try:
            response = httpx.get(signed_url(url, key, secret, params), timeout=TIMEOUT_S)
        except httpx.HTTPError as exc:
            console.print(f"[red]could not reach {url}: {exc}[/red]")
            raise typer.Exit(code=2) from exc
        try:
            answer = response.json()
        except ValueError:
            answer = {"body": response.text[:500]}
        print(json.dumps({"http_status": response.status_code, **answer}))
        if answer.get("status") not in ("accepted", "duplicate"):
            raise typer.Exit(code=1)
