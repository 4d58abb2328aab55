"""The integration directory is reloaded off the event loop: postbacks are answered while a
reload is slow, and a new, changed or disabled integration takes effect within ``refresh_s``.

The slow reload is a source that blocks on a gate the test opens, never a timed sleep.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import replace

import pytest
import sqlalchemy as sa

from clickledger.ingest.hub import IngestHub
from clickledger.ingest.integrations import (
    IntegrationDirectory,
    IntegrationInfo,
    database_source,
)
from clickledger.store import tables as t

from .conftest import Client, World

GATE_TIMEOUT_S = 30.0  # only a broken test waits this long


class GatedSource:
    """A directory source that, while ``closed``, blocks every read until ``open_gate``."""

    def __init__(self, read: Callable[[], list[IntegrationInfo]]) -> None:
        self.read = read
        self.reads = 0
        self.waiting = threading.Event()  # a read is blocked at the gate
        self._gate = threading.Event()
        self._gate.set()

    def close_gate(self) -> None:
        self._gate.clear()

    def open_gate(self) -> None:
        self._gate.set()

    def __call__(self) -> list[IntegrationInfo]:
        if not self._gate.is_set():
            self.waiting.set()
            assert self._gate.wait(GATE_TIMEOUT_S), "the test never opened the gate"
        self.reads += 1
        return self.read()


def _hub(client: Client) -> IngestHub:
    handler = client.app.hot.exact["/postback"]
    hub: IngestHub = handler.hub  # type: ignore[attr-defined]
    return hub


def _set_status(world: World, status: str) -> None:
    with world.engine.begin() as conn:
        conn.execute(sa.update(t.integrations).where(
            t.integrations.c.id == world.integration["id"]).values(status=status))


REGISTRATION = {"event": "registration", "user_id": "p1", "txn_id": "r1"}


def test_a_postback_is_answered_while_a_reload_is_stuck_and_the_reload_then_applies(
    world: World, serve
) -> None:
    async def scenario(client: Client):
        hub = _hub(client)
        await hub.directory.stop()  # the app's own, replaced by one reading through a gate
        source = GatedSource(database_source(world.engine))
        directory = hub.directory = IntegrationDirectory(source=source)
        directory.reload()
        source.close_gate()
        reloading = asyncio.ensure_future(directory.refresh())
        await asyncio.to_thread(source.waiting.wait, GATE_TIMEOUT_S)  # the reload is stuck
        during = await client.get(REGISTRATION)
        still_reloading = not reloading.done()
        _set_status(world, "disabled")  # what the stuck reload will read once let through
        source.open_gate()
        await reloading
        after = await client.get({**REGISTRATION, "txn_id": "r2"})
        await directory.stop()
        return during, still_reloading, after

    during, still_reloading, after = serve(scenario)
    assert still_reloading, "the postback must have been answered while the reload was stuck"
    assert during.status_code == 200 and during.json()["status"] == "accepted"
    assert after.status_code == 401 and after.json()["reason"] == "unknown_key"


class FakeMonotonic:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def _info(key: str, active: bool = True) -> IntegrationInfo:
    return IntegrationInfo(id=key, brand_id="b", name=key, signing_secret="s",
                           require_signature=True, networks=(), parameter_map={},
                           status_map={}, pixel_key=f"px-{key}", active=active)


@pytest.fixture
def stored() -> dict[str, IntegrationInfo]:
    return {"a": _info("a")}


@pytest.fixture
def ticks() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def source(stored: dict[str, IntegrationInfo]) -> GatedSource:
    return GatedSource(lambda: list(stored.values()))


@pytest.fixture
def directory(source: GatedSource, ticks: FakeMonotonic) -> IntegrationDirectory:
    found = IntegrationDirectory(source=source, refresh_s=10.0, miss_reload_s=0.2,
                                 monotonic=ticks)
    found.reload()
    return found


def test_a_new_integration_works_at_its_first_request_and_unknown_keys_cannot_hammer(
    directory: IntegrationDirectory, source: GatedSource, stored: dict[str, IntegrationInfo],
    ticks: FakeMonotonic,
) -> None:
    async def scenario() -> None:
        ticks.now_s += 1
        stored["new"] = _info("new")
        found = await directory.lookup("new")  # a miss: reloaded (off the loop) at once
        assert found is not None and found.id == "new"
        assert await directory.lookup_pixel_key("px-new") == found
        reads = source.reads
        for _ in range(50):  # a flood of unknown keys within miss_reload_s: no more reads
            assert await directory.lookup("nobody") is None
        assert source.reads == reads
        ticks.now_s += 0.3
        assert await directory.lookup("nobody") is None
        assert source.reads == reads + 1
        await directory.stop()

    asyncio.run(scenario())


def test_a_disabled_or_changed_integration_takes_effect_within_refresh_s(
    directory: IntegrationDirectory, source: GatedSource, stored: dict[str, IntegrationInfo],
    ticks: FakeMonotonic,
) -> None:
    async def scenario() -> None:
        stored["a"] = _info("a", active=False)
        ticks.now_s += 9.9  # within refresh_s the view answers, nothing is read
        info = directory.cached("a") or await directory.lookup("a")
        assert info.active and source.reads == 1
        ticks.now_s += 0.2  # past refresh_s (no refresher ran): the look-up waits for a reload
        assert directory.cached("a") is None
        info = await directory.lookup("a")
        assert info is not None and not info.active and source.reads == 2
        stored["a"] = replace(stored["a"], signing_secret="rotated", active=True)
        ticks.now_s += 10.1
        info = await directory.lookup("a")
        assert info is not None and info.signing_secret == "rotated"
        await directory.stop()

    asyncio.run(scenario())


def test_the_refresher_reloads_in_the_background_every_half_refresh_s(
    stored: dict[str, IntegrationInfo],
) -> None:
    reloaded = threading.Event()

    def source() -> list[IntegrationInfo]:
        if len(calls) == 1:
            reloaded.set()  # the first reload after the start-up load
        calls.append(1)
        return list(stored.values())

    calls: list[int] = []

    async def scenario() -> bool:
        directory = IntegrationDirectory(source=source, refresh_s=0.05)
        await directory.start()
        try:
            return await asyncio.to_thread(reloaded.wait, GATE_TIMEOUT_S)
        finally:
            await directory.stop()

    assert asyncio.run(scenario())


def test_a_failed_reload_keeps_the_current_view_and_plain_callers_never_wait(
    stored: dict[str, IntegrationInfo], ticks: FakeMonotonic
) -> None:
    failing = [False]

    def source() -> list[IntegrationInfo]:
        if failing[0]:
            raise sa.exc.OperationalError("select", {}, Exception("database is down"))
        return list(stored.values())

    directory = IntegrationDirectory(source=source, monotonic=ticks)
    assert directory.by_id("a") is not None  # the first call on a fresh directory loads it

    async def scenario() -> IntegrationInfo | None:
        failing[0] = True
        ticks.now_s += 60
        info = await directory.lookup("a")  # the reload fails: the last view answers
        await directory.stop()
        return info

    assert asyncio.run(scenario()) == stored["a"]
    gate = GatedSource(lambda: list(stored.values()))
    plain = IntegrationDirectory(source=gate, monotonic=ticks)
    plain.reload()
    gate.close_gate()
    ticks.now_s += 60  # old view: a plain caller starts a reload in the background, no wait
    assert plain.by_pixel_key("px-a") == stored["a"]
    assert gate.waiting.wait(GATE_TIMEOUT_S)
    gate.open_gate()
    asyncio.run(plain.stop())
