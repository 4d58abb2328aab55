"""A held player of affiliate A in the HTTP test world, made through the real fraud path."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import sqlalchemy as sa
from tests.http.conftest import World

from clickledger.store import tables as t
from fraud_builder import HEADLESS, FraudWorld, registered_with_ftd

_SEQ = count(1)


def held_player(w: World) -> dict[str, str]:
    """A player of A held for a headless click, with its CPA conversion and assessment."""
    engine = w.runtime.engine
    fraud = FraudWorld(engine)
    fraud.seq = 1000 * next(_SEQ)
    with engine.connect() as conn:
        deals = conn.execute(sa.select(sa.func.count()).select_from(t.deal_assignments).where(
            t.deal_assignments.c.affiliate_id == w.affiliate_a)).scalar_one()
    fraud.integration_of[w.brand_id] = w.integration_id
    fraud.links[w.affiliate_a] = (w.link_a, w.offer_id)
    if not deals:
        fraud.cpa_for(w.brand_id, w.affiliate_a, w.link_a, w.offer_id, w.integration_id)
    now = w.runtime.clock.now()
    player, registration, ftd = registered_with_ftd(
        fraud, w.brand_id, w.affiliate_a, now - timedelta(days=1), timedelta(seconds=40),
        ua=HEADLESS, browser="HeadlessChrome", count=False)
    fraud.land(registration, ftd, now=now)
    row = fraud.latest(player)
    conversion = fraud.conversion(player)
    return {"assessment_id": str(row.id), "conversion_id": str(conversion.id),
            "player_id": player}
