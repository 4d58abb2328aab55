"""The simulated programme: one casino brand and its integration, an affiliate tree on
hybrid (CPA + RevShare), RevShare and sub-affiliate deals, all in one in-memory SQLite
database that the real services write to, driven by a ``FakeClock``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from clickledger.clock import FakeClock
from clickledger.ids import new_id
from clickledger.ingest.integrations import IntegrationDirectory, IntegrationInfo
from clickledger.ingest.pipeline import Answer, Flusher, Submission
from clickledger.ingest.validate import validate
from clickledger.services import deals
from clickledger.store import tables as t

START = datetime(2026, 1, 1, tzinfo=UTC)
ACTOR = "simulation"
BRAND = "Sim Casino"
SUB_LEVELS_PCT = ("10", "3")  # Top's sub-affiliate deal: 10 % of Mid's lines, 3 % of Leaf's
HYBRID_TERMS: dict[str, Any] = {
    "cpa": {"amount": "75", "tiers": [{"min_players": 2, "amount": "90"}], "cap_per_period": 3,
            "qualification": {"min_ftd": "20"}},
    "revshare": {"pct": "15", "carryover": "carry_forward"}}


@dataclass
class SimWorld:
    engine: sa.Engine
    clock: FakeClock
    integration: IntegrationInfo
    flusher: Flusher
    affiliates: list[str]
    links: dict[str, str]
    revshare_deal: str
    answers: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    gap_s: int = 1  # seconds between batches (0: batches share one arrival time)

    def submit(self, batch: list[Mapping[str, str]]) -> list[Answer]:
        """Validate and store ``batch`` through the ingestion flush, in one transaction."""
        now = self.clock.now()
        subs = [Submission(self.integration, validate(fields, now=now), dict(fields), now)
                for fields in batch]
        with self.engine.begin() as conn:
            answers = self.flusher(conn, subs)
        done = [answer for answer in answers if answer is not None]
        self.clock.advance(timedelta(seconds=self.gap_s))  # the next batch arrives later
        for fields, answer in zip(batch, done, strict=True):
            assert answer.body["status"] in ("accepted", "duplicate"), answer.body
            self.answers[fields["txn_id"]].add(str(answer.body["event_id"]))
        return done

    def click(self, affiliate_index: int) -> str:
        click_id = new_id()
        affiliate_id = self.affiliates[affiliate_index]
        with self.engine.begin() as conn:
            offer_id = conn.execute(sa.select(t.offers.c.id)).scalar_one()
            conn.execute(t.clicks.insert().values(
                id=click_id, created_at=self.clock.now(), link_id=self.links[affiliate_id],
                affiliate_id=affiliate_id, offer_id=offer_id, is_unique=True))
        return click_id


def _insert(conn: sa.Connection, table: sa.Table, **values: Any) -> str:
    values.setdefault("id", new_id())
    for name in ("created_at", "updated_at"):
        if name in table.c:
            values.setdefault(name, START)
    conn.execute(table.insert().values(**values))
    return str(values["id"])


def build_world(engine: sa.Engine | None = None) -> SimWorld:
    """A fresh world; by default in an in-memory SQLite database."""
    if engine is None:
        engine = sa.create_engine("sqlite://", poolclass=StaticPool,
                                  connect_args={"check_same_thread": False})
        t.metadata.create_all(engine)
    clock = FakeClock(START)
    with engine.begin() as conn:
        brand = _insert(conn, t.brands, name=BRAND, kind="casino", default_currency="EUR",
                        ngr_admin_fee_pct="5")
        integration = _insert(conn, t.integrations, brand_id=brand, name="sim feed",
                              signing_secret="s" * 32)
        offer = _insert(conn, t.offers, brand_id=brand, name="Welcome",
                        landing_url="https://casino.example/", allowed_domains=["casino.example"])
        top = _insert(conn, t.affiliates, name="Top", email="top@sim.test", status="active",
                      payout_currency="EUR")
        mid = _insert(conn, t.affiliates, name="Mid", email="mid@sim.test", status="active",
                      payout_currency="EUR", parent_id=top)
        leaf = _insert(conn, t.affiliates, name="Leaf", email="leaf@sim.test", status="active",
                       payout_currency="EUR", parent_id=mid)
        links = {aff: _insert(conn, t.tracking_links, code=f"sim-{n}", affiliate_id=aff,
                              offer_id=offer) for n, aff in enumerate((top, mid, leaf))}
        now = clock.now()
        sub = deals.create_deal(conn, name="Subs", brand_id=brand, kind="sub_affiliate",
                                currency="EUR", terms={"levels_pct": list(SUB_LEVELS_PCT)},
                                effective_from=None, actor=ACTOR, now=now)
        hybrid = deals.create_deal(conn, name="Hybrid", brand_id=brand, kind="hybrid",
                                   currency="EUR", terms=HYBRID_TERMS, effective_from=None,
                                   actor=ACTOR, now=now)
        revshare = deals.create_deal(conn, name="RS", brand_id=brand, kind="revshare",
                                     currency="EUR", terms={"pct": "30", "carryover": "none"},
                                     effective_from=None, actor=ACTOR, now=now)
        for deal, affiliate in ((sub, top), (hybrid, mid), (revshare, leaf)):
            deals.assign(conn, deal_id=deal["id"], affiliate_id=affiliate, overrides=None,
                         effective_from=None, actor=ACTOR, now=now)
    info = IntegrationDirectory(engine).by_id(integration)
    assert info is not None
    return SimWorld(engine, clock, info, Flusher(clock, 30), [top, mid, leaf], links,
                    str(revshare["id"]))


def advance(world: SimWorld, hours: int) -> None:
    world.clock.advance(timedelta(hours=hours))
