"""The data model for all six stages, as SQLAlchemy Core tables.

Conventions: primary keys are UUIDv7 text (time-ordered); money is an integer
``*_minor`` column beside a ``currency`` ISO-4217 code; times are UTC; JSON
columns hold free-form operator data; every idempotent write from outside has
a unique index that ``insert … on conflict`` relies on.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class TextUuid(sa.Uuid[str]):
    """``sa.Uuid(as_uuid=False)`` (same DDL, same stored form) with a cheaper reader.

    Where UUIDs are stored as 32 hex digits (SQLite), SQLAlchemy turns each
    value read back into text through ``uuid.UUID``; this formats canonical
    lower-case hex directly (3x faster, on every id of every row read) and
    leaves anything else to ``uuid.UUID`` as before.
    """

    def result_processor(self, dialect: Any, coltype: object) -> Any:
        standard = super().result_processor(dialect, coltype)  # type: ignore[no-untyped-call]
        if self.native_uuid and dialect.supports_native_uuid:
            return standard

        def process(value: str | None) -> str | None:
            if value is not None and len(value) == 32 and _HEX32.fullmatch(value):
                return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
            return standard(value)  # type: ignore[no-any-return]

        return process


_HEX32 = re.compile(r"[0-9a-f]{32}")
Id = TextUuid(as_uuid=False)
Time = sa.DateTime(timezone=True)
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _id() -> sa.Column[str]:
    return sa.Column("id", Id, primary_key=True)


def _created() -> sa.Column[object]:
    return sa.Column("created_at", Time, nullable=False)


def _updated() -> sa.Column[object]:
    return sa.Column("updated_at", Time, nullable=False)


def _money(prefix: str, nullable: bool = True) -> sa.Column[int]:
    return sa.Column(f"{prefix}_minor", sa.BigInteger, nullable=nullable)


def _currency(nullable: bool = True) -> sa.Column[str]:
    return sa.Column("currency", sa.String(4), nullable=nullable)


def _fk(name: str, target: str, nullable: bool = True, index: bool = True) -> sa.Column[str]:
    return sa.Column(name, Id, sa.ForeignKey(target), nullable=nullable, index=index)


# --- programme set-up -------------------------------------------------------

brands = sa.Table(
    "brands", metadata, _id(),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("kind", sa.String(20), nullable=False),  # casino | sportsbook | forex
    sa.Column("default_currency", sa.String(4), nullable=False),
    sa.Column("fallback_url", sa.String(2000)),
    # NGR formula: which parts are deducted from GGR, and the admin fee % of GGR.
    sa.Column("ngr_deduct_bonuses", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("ngr_deduct_chargebacks", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("ngr_admin_fee_pct", sa.String(20), nullable=False, server_default="0"),
    sa.Column("status", sa.String(20), nullable=False, server_default="active"),
    _created(), _updated(),
)

offers = sa.Table(
    "offers", metadata, _id(),
    _fk("brand_id", "brands.id", nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("landing_url", sa.String(2000), nullable=False),
    sa.Column("allowed_domains", Json, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="active"),
    _created(), _updated(),
)

affiliates = sa.Table(
    "affiliates", metadata, _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    _fk("parent_id", "affiliates.id"),
    sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
    sa.Column("payout_currency", sa.String(4), nullable=False),
    sa.Column("payment_method", sa.String(20)),  # bank | ewallet | crypto
    sa.Column("payment_details", Json),  # confirmed details used by payout runs
    sa.Column("pending_payment_details", Json),  # changed by the affiliate, awaiting a manager
    sa.Column("payout_threshold_minor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("login_ips", Json),
    _created(), _updated(),
)

integrations = sa.Table(
    "integrations", metadata, _id(),
    _fk("brand_id", "brands.id", nullable=False),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("signing_secret", sa.String(200), nullable=False),
    sa.Column("require_signature", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("ip_allowlist", Json),
    sa.Column("parameter_map", Json),  # operator's parameter names -> ours
    sa.Column("status_map", Json),  # operator's status words -> ours
    sa.Column("pixel_key", sa.String(64), unique=True),  # public key for /p.gif; null = no pixel
    sa.Column("status", sa.String(20), nullable=False, server_default="active"),
    _created(), _updated(),
)

api_keys = sa.Table(
    "api_keys", metadata, _id(),
    sa.Column("prefix", sa.String(16), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(128), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    _fk("affiliate_id", "affiliates.id"),
    _fk("integration_id", "integrations.id"),
    _created(),
    sa.Column("revoked_at", Time),
)

users = sa.Table(
    "users", metadata, _id(),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    _fk("affiliate_id", "affiliates.id"),
    _created(),
    sa.Column("disabled_at", Time),
)

tracking_links = sa.Table(
    "tracking_links", metadata, _id(),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    _fk("affiliate_id", "affiliates.id", nullable=False),
    _fk("offer_id", "offers.id", nullable=False),
    sa.Column("sub1", sa.String(255)), sa.Column("sub2", sa.String(255)),
    sa.Column("sub3", sa.String(255)), sa.Column("sub4", sa.String(255)),
    sa.Column("sub5", sa.String(255)),
    sa.Column("status", sa.String(20), nullable=False, server_default="active"),
    _created(), _updated(),
)

promo_codes = sa.Table(
    "promo_codes", metadata, _id(),
    sa.Column("code", sa.String(64), nullable=False, unique=True),  # stored upper-case
    _fk("affiliate_id", "affiliates.id", nullable=False),
    _fk("brand_id", "brands.id", nullable=False),
    _fk("offer_id", "offers.id"),
    sa.Column("status", sa.String(20), nullable=False, server_default="active"),
    _created(), _updated(),
)

# --- click -------------------------------------------------------------------

clicks = sa.Table(
    "clicks", metadata, _id(),
    sa.Column("created_at", Time, nullable=False, index=True),
    sa.Column("link_id", Id, nullable=False),
    sa.Column("affiliate_id", Id, nullable=False),
    sa.Column("offer_id", Id, nullable=False),
    sa.Column("sub1", sa.String(255)), sa.Column("sub2", sa.String(255)),
    sa.Column("sub3", sa.String(255)), sa.Column("sub4", sa.String(255)),
    sa.Column("sub5", sa.String(255)),
    sa.Column("extra", Json),
    sa.Column("ip", sa.String(64)),
    sa.Column("user_agent", sa.String(1024)),
    sa.Column("referrer", sa.String(2048)),
    sa.Column("accept_language", sa.String(255)),
    sa.Column("visitor_key", sa.String(64)),  # cookie or hashed ip+ua, for unique clicks
    sa.Column("is_unique", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("country", sa.String(2)),
    sa.Column("device", sa.String(40)),
    sa.Column("os", sa.String(60)),
    sa.Column("browser", sa.String(60)),
    sa.Column("is_bot", sa.Boolean),
    sa.Column("enriched_at", Time),
)

click_rollups_hourly = sa.Table(
    "click_rollups_hourly", metadata,
    sa.Column("hour", Time, nullable=False),
    sa.Column("affiliate_id", Id, nullable=False),
    sa.Column("link_id", Id, nullable=False),
    sa.Column("offer_id", Id, nullable=False),
    sa.Column("sub1", sa.String(255), nullable=False, server_default=""),
    sa.Column("country", sa.String(2), nullable=False, server_default=""),
    sa.Column("clicks", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("unique_clicks", sa.BigInteger, nullable=False, server_default="0"),
    sa.PrimaryKeyConstraint("hour", "affiliate_id", "link_id", "offer_id", "sub1", "country"),
)

# --- registration and player events -----------------------------------------

players = sa.Table(
    "players", metadata, _id(),
    _fk("brand_id", "brands.id", nullable=False, index=False),
    sa.Column("operator_player_id", sa.String(128), nullable=False),
    sa.Column("registered_at", Time),  # null until the registration arrives
    _fk("affiliate_id", "affiliates.id"),  # null = organic / not yet attributed
    sa.Column("click_id", Id),
    _fk("promo_code_id", "promo_codes.id", index=False),
    sa.Column("attribution", sa.String(20), nullable=False, server_default="pending"),
    sa.Column("country", sa.String(2)),
    sa.Column("ftd_event_id", Id),
    sa.Column("ftd_at", Time),
    _created(), _updated(),
    sa.UniqueConstraint("brand_id", "operator_player_id"),
)

player_events = sa.Table(
    "player_events", metadata, _id(),
    _fk("integration_id", "integrations.id", nullable=False, index=False),
    sa.Column("txn_id", sa.String(255), nullable=False),
    sa.Column("payload_hash", sa.String(64), nullable=False),
    sa.Column("source", sa.String(10), nullable=False),  # s2s | pixel | batch
    sa.Column("kind", sa.String(20), nullable=False),
    _fk("brand_id", "brands.id", nullable=False, index=False),
    sa.Column("operator_player_id", sa.String(128), nullable=False),
    _fk("player_id", "players.id"),
    sa.Column("occurred_at", Time, nullable=False),
    sa.Column("received_at", Time, nullable=False),
    _money("amount"), _currency(),
    sa.Column("lots_milli", sa.BigInteger),  # trade volume in thousandths of a lot
    sa.Column("instrument", sa.String(64)),
    sa.Column("account_type", sa.String(64)),
    _money("spread"),  # broker's spread/commission income on a trade
    _money("bets"), _money("wins"), _money("bonus"), _money("chargebacks"),
    sa.Column("activity_day", sa.Date),
    sa.Column("country", sa.String(2)),
    sa.Column("click_id", sa.String(64)),
    sa.Column("promo_code", sa.String(64)),
    sa.Column("status_raw", sa.String(64)),
    sa.Column("reverses_txn_id", sa.String(255)),
    sa.Column("raw", Json),
    sa.UniqueConstraint("integration_id", "txn_id"),
    # the commission engine finds the chargebacks/reversals pointing at a trade or deposit;
    # only rows that name one are indexed (every index costs each inserted event)
    sa.Index("ix_player_events_reverses", "integration_id", "reverses_txn_id",
             sqlite_where=sa.text("reverses_txn_id IS NOT NULL"),
             postgresql_where=sa.text("reverses_txn_id IS NOT NULL")),
)

# --- conversion: deals, conversions and the ledger --------------------------

deals = sa.Table(
    "deals", metadata, _id(),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    _fk("brand_id", "brands.id", nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # cpa | cpl | revshare | hybrid | ib_rebate
    sa.Column("currency", sa.String(4), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="active"),
    _created(), _updated(),
)

deal_versions = sa.Table(
    "deal_versions", metadata, _id(),
    _fk("deal_id", "deals.id", nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("effective_from", Time, nullable=False),
    sa.Column("terms", Json, nullable=False),
    _created(),
    sa.UniqueConstraint("deal_id", "version"),
)

deal_assignments = sa.Table(
    "deal_assignments", metadata, _id(),
    _fk("affiliate_id", "affiliates.id", nullable=False),
    _fk("deal_id", "deals.id", nullable=False),
    sa.Column("effective_from", Time, nullable=False),
    sa.Column("effective_to", Time),
    sa.Column("overrides", Json),  # per-affiliate override of any deal term
    _created(),
)

# The deal catalogue's change counter (``store.deals.catalogue``): one row (id 1), bumped by
# triggers on every insert, update or delete of the tables the catalogue is built from, so
# every process (the admin API's included) sees a change by reading one integer.  It starts
# at a random value: a database created afresh never matches a catalogue cached for an
# earlier one at the same address.  The same statements are in migration 0006 (keep both
# identical).
catalogue_version = sa.Table(
    "catalogue_version", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.BigInteger, nullable=False),
)
CATALOGUE_TABLES = ("affiliates", "deals", "deal_versions", "deal_assignments")
CATALOGUE_BUMP = "UPDATE catalogue_version SET version = version + 1 WHERE id = 1"
CATALOGUE_START = {
    "sqlite": "INSERT INTO catalogue_version (id, version)"
              " VALUES (1, random() & 1125899906842623)",  # 0 … 2**50 - 1
    "postgresql": "INSERT INTO catalogue_version (id, version)"
                  " VALUES (1, floor(random() * 1000000000000000)::bigint)",
}


def catalogue_triggers(dialect: str) -> list[str]:
    """The statements creating the counter's triggers on ``dialect`` (SQLite: one per table
    and operation, per row; PostgreSQL: one function and one trigger per table, per
    statement, TRUNCATE included)."""
    if dialect == "sqlite":
        return [f"CREATE TRIGGER catalogue_version_{table}_{op.lower()} AFTER {op} ON {table}"
                f" BEGIN {CATALOGUE_BUMP}; END"
                for table in CATALOGUE_TABLES for op in ("INSERT", "UPDATE", "DELETE")]
    return ["CREATE OR REPLACE FUNCTION catalogue_version_bump() RETURNS trigger"
            f" LANGUAGE plpgsql AS $$ BEGIN {CATALOGUE_BUMP}; RETURN NULL; END $$",
            *(f"CREATE TRIGGER catalogue_version_{table} AFTER INSERT OR UPDATE OR DELETE"
              f" OR TRUNCATE ON {table} FOR EACH STATEMENT"
              " EXECUTE FUNCTION catalogue_version_bump()" for table in CATALOGUE_TABLES)]

conversions = sa.Table(
    "conversions", metadata, _id(),
    _fk("player_id", "players.id", nullable=False),
    _fk("affiliate_id", "affiliates.id", nullable=False, index=False),
    _fk("deal_version_id", "deal_versions.id", index=False),
    sa.Column("kind", sa.String(20), nullable=False),  # cpa | cpl | ...
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("reason", sa.String(500)),
    sa.Column("event_id", Id),
    sa.Column("deal_id", Id),  # for caps and tiers: counted per deal, affiliate and period
    sa.Column("period_start", Time),  # the period the player qualified in
    sa.Column("qualified_at", Time),
    _created(), _updated(),
    sa.UniqueConstraint("player_id", "kind"),
    # caps and tiers count an affiliate's paid conversions in one period on every evaluation
    # (by kind and deal): answered from this index alone, in the GROUP BY's order
    sa.Index("ix_conversions_affiliate_period_paid", "affiliate_id", "period_start", "kind",
             "deal_id", "status"),
)

# The steps live evaluation took, in the order it took them (``services.evaluation_order``):
# ``ledger rebuild`` replays them in ``seq`` order.  ``detail`` (plain JSON: written once per
# step, read only by the rebuild): events {arrived, also, bound}; remap {player_id, before,
# after, audit_id}; reject {player_id, kind, reason}; close {period_start}.
evaluation_steps = sa.Table(
    "evaluation_steps", metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
              autoincrement=True),  # SQLite: the rowid
    sa.Column("kind", sa.String(10), nullable=False),  # events | remap | reject | close
    sa.Column("at", Time, nullable=False),
    sa.Column("detail", sa.JSON(), nullable=False),
)

periods = sa.Table(
    "periods", metadata, _id(),
    sa.Column("starts_at", Time, nullable=False),
    sa.Column("ends_at", Time, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="open"),
    sa.Column("closed_at", Time),
    sa.UniqueConstraint("starts_at"),
)

ledger_entries = sa.Table(
    "ledger_entries", metadata, _id(),
    sa.Column("entry_key", sa.String(255), nullable=False, unique=True),  # idempotency
    sa.Column("kind", sa.String(20), nullable=False),  # commission | reversal | adjustment | payout
    _fk("affiliate_id", "affiliates.id", nullable=False),
    _fk("player_id", "players.id"),
    _money("amount", nullable=False), _currency(nullable=False),
    _fk("deal_version_id", "deal_versions.id", index=False),
    sa.Column("deal_type", sa.String(20)),
    sa.Column("period_start", Time, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # approved | on_hold | pending
    sa.Column("source_event_ids", Json, nullable=False),
    sa.Column("reverses_entry_id", Id),
    _fk("conversion_id", "conversions.id", index=False),
    sa.Column("reconciliation_item_id", Id),
    sa.Column("payout_id", Id),
    sa.Column("explanation", sa.String(1000), nullable=False),
    _created(),
)

# RevShare state per affiliate, deal and closed period: the NGR and what carries forward.
revshare_balances = sa.Table(
    "revshare_balances", metadata, _id(),
    _fk("affiliate_id", "affiliates.id", nullable=False, index=False),
    _fk("deal_id", "deals.id", nullable=False, index=False),
    sa.Column("period_start", Time, nullable=False),
    sa.Column("currency", sa.String(4), nullable=False),
    sa.Column("ngr", sa.String(60), nullable=False),  # exact Decimal text, deal currency
    sa.Column("carry_in", sa.String(60), nullable=False),
    sa.Column("carry_out", sa.String(60), nullable=False),
    _created(),
    sa.UniqueConstraint("affiliate_id", "deal_id", "period_start"),
)

fx_rates = sa.Table(
    "fx_rates", metadata, _id(),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("base", sa.String(4), nullable=False),
    sa.Column("quote", sa.String(4), nullable=False),
    sa.Column("rate", sa.String(40), nullable=False),  # exact Decimal text
    sa.Column("source", sa.String(100), nullable=False),
    _created(),
    sa.UniqueConstraint("day", "base", "quote", "source"),
)

# --- reconciliation ---------------------------------------------------------

reconciliation_runs = sa.Table(
    "reconciliation_runs", metadata, _id(),
    _fk("brand_id", "brands.id", nullable=False),
    sa.Column("statement_kind", sa.String(30), nullable=False),
    sa.Column("file_name", sa.String(500)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("tolerance_minor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("summary", Json),
    sa.Column("created_by", sa.String(200), nullable=False),
    _created(),
)

reconciliation_items = sa.Table(
    "reconciliation_items", metadata, _id(),
    _fk("run_id", "reconciliation_runs.id", nullable=False),
    sa.Column("line_no", sa.Integer),
    sa.Column("match_key", sa.String(300), nullable=False),
    sa.Column("flag", sa.String(30), nullable=False),
    _fk("affiliate_id", "affiliates.id"),
    sa.Column("operator_affiliate_id", sa.String(128)),
    _money("ours"), _money("theirs"), _money("difference"), _currency(),
    sa.Column("theirs_currency", sa.String(4)),
    _money("proposed_adjustment"),
    sa.Column("decision", sa.String(20), nullable=False, server_default="none"),
    sa.Column("decided_by", sa.String(200)),
    sa.Column("decided_at", Time),
    sa.Column("ledger_entry_id", Id),
    sa.Column("details", Json),
)

# --- payout -----------------------------------------------------------------

payout_runs = sa.Table(
    "payout_runs", metadata, _id(),
    sa.Column("period_start", Time, nullable=False),
    sa.Column("period_end", Time, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # draft | approved | closed
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("approved_by", sa.String(200)),
    sa.Column("approved_at", Time),
    _created(),
    sa.UniqueConstraint("period_start", "period_end"),  # one run per period: create is idempotent
)

payouts = sa.Table(
    "payouts", metadata, _id(),
    _fk("run_id", "payout_runs.id", nullable=False),
    _fk("affiliate_id", "affiliates.id", nullable=False),
    _money("amount", nullable=False), _currency(nullable=False),  # balance currency
    _money("payout_amount", nullable=False),  # net: what reaches the affiliate
    sa.Column("payout_currency", sa.String(4), nullable=False),
    sa.Column("fx_rate", sa.String(40)),
    _money("gross"),  # converted balance before fees and withholding, in payout_currency
    _money("fees"), _money("withholding"),
    sa.Column("lines", Json),  # the configured fee / withholding lines applied
    sa.Column("method", sa.String(20)),
    sa.Column("payment_details", Json),
    # draft | approved | paid | failed; not paid: rolled_over | carried | blocked
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("payment_reference", sa.String(200)),
    sa.Column("failure_reason", sa.String(500)),
    _created(), _updated(),
    sa.UniqueConstraint("run_id", "affiliate_id", "currency"),
)

payout_deductions = sa.Table(
    "payout_deductions", metadata, _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # fee | withholding
    sa.Column("percent", sa.String(20), nullable=False, server_default="0"),  # exact Decimal
    _money("fixed", nullable=False), _currency(),  # a fixed part needs a currency
    sa.Column("method", sa.String(20)),  # null = every method
    _fk("affiliate_id", "affiliates.id"),  # null = every affiliate
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_by", sa.String(200), nullable=False),
    _created(),
)

# --- outbound ---------------------------------------------------------------

postback_templates = sa.Table(
    "postback_templates", metadata, _id(),
    _fk("affiliate_id", "affiliates.id", nullable=False),
    _fk("offer_id", "offers.id"),
    sa.Column("event_kind", sa.String(20)),  # null = every event
    sa.Column("kind", sa.String(20), nullable=False),  # url | webhook
    sa.Column("url_template", sa.String(2000), nullable=False),
    sa.Column("status_words", Json),
    sa.Column("webhook_secret", sa.String(200)),
    sa.Column("status", sa.String(20), nullable=False, server_default="active"),
    sa.Column("disabled_reason", sa.String(200)),  # e.g. "target answered 410 Gone"
    _created(), _updated(),
)

outbox = sa.Table(
    "outbox", metadata, _id(),
    sa.Column("dedupe_key", sa.String(300), nullable=False, unique=True),
    _fk("template_id", "postback_templates.id", nullable=False),
    _fk("affiliate_id", "affiliates.id", nullable=False),
    sa.Column("event_id", Id),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("url", sa.String(4000), nullable=False),
    sa.Column("body", sa.Text),
    sa.Column("headers", Json),
    sa.Column("status", sa.String(20), nullable=False),  # pending | delivered | dead | disabled
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", Time, nullable=False),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.String(1000)),
    sa.Column("claimed_by", sa.String(64)),  # the dispatcher holding the lease
    sa.Column("claimed_until", Time),  # lease end; after it the row is claimable again
    sa.Column("resend_count", sa.Integer, nullable=False, server_default="0"),
    _created(), _updated(),
    sa.Index("ix_outbox_due", "status", "next_attempt_at"),
)

outbox_attempts = sa.Table(
    "outbox_attempts", metadata, _id(),
    _fk("outbox_id", "outbox.id", nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("cycle", sa.Integer, nullable=False, server_default="0"),  # manual re-sends
    sa.Column("at", Time, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("response_excerpt", sa.String(1000)),
    sa.Column("error", sa.String(1000)),
    sa.Column("duration_ms", sa.Integer),
)

# --- integration health and audit ------------------------------------------

ingest_rejections = sa.Table(
    "ingest_rejections", metadata, _id(),
    _fk("integration_id", "integrations.id"),
    sa.Column("source", sa.String(10), nullable=False),
    sa.Column("reason_code", sa.String(60), nullable=False),
    sa.Column("message", sa.String(1000), nullable=False),
    sa.Column("excerpt", sa.String(2000)),
    _created(),
)

integration_health_hourly = sa.Table(
    "integration_health_hourly", metadata,
    sa.Column("integration_id", Id, nullable=False),
    sa.Column("hour", Time, nullable=False),
    sa.Column("accepted", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("duplicates", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rejected", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("lag_ms_sum", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("lag_ms_max", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("last_event_at", Time),
    sa.PrimaryKeyConstraint("integration_id", "hour"),
)

audit_log = sa.Table(
    "audit_log", metadata, _id(),
    sa.Column("at", Time, nullable=False, index=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(60), nullable=False),
    sa.Column("entity", sa.String(60), nullable=False),
    sa.Column("entity_id", sa.String(64), nullable=False),
    sa.Column("before", Json),
    sa.Column("after", Json),
)

# The audit log is append-only, enforced by the database itself: UPDATE and DELETE raise.
# The same statements are in migration 0001 (keep both identical).
AUDIT_LOG_GUARD_SQLITE = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)
AUDIT_LOG_GUARD_POSTGRESQL = (
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
)


def _ddl(statement: str, dialect: str) -> sa.ExecutableDDLElement:
    ddl: sa.ExecutableDDLElement = sa.DDL(statement)  # type: ignore[no-untyped-call]
    return ddl.execute_if(dialect=dialect)


for _statement in AUDIT_LOG_GUARD_SQLITE:
    sa.event.listen(audit_log, "after_create", _ddl(_statement, "sqlite"))
for _statement in AUDIT_LOG_GUARD_POSTGRESQL:
    sa.event.listen(audit_log, "after_create", _ddl(_statement, "postgresql"))
sa.event.listen(audit_log, "after_drop",
                _ddl("DROP FUNCTION IF EXISTS audit_log_append_only()", "postgresql"))

for _table in CATALOGUE_TABLES:  # created after the tables its triggers are on
    catalogue_version.add_is_dependent_on(metadata.tables[_table])
for _dialect, _statement in CATALOGUE_START.items():
    sa.event.listen(catalogue_version, "after_create", _ddl(_statement, _dialect))
    for _trigger in catalogue_triggers(_dialect):
        sa.event.listen(catalogue_version, "after_create", _ddl(_trigger, _dialect))
sa.event.listen(catalogue_version, "after_drop", _ddl(
    "DROP FUNCTION IF EXISTS catalogue_version_bump() CASCADE", "postgresql"))
for _table in CATALOGUE_TABLES:
    for _op in ("insert", "update", "delete"):
        sa.event.listen(catalogue_version, "after_drop", _ddl(
            f"DROP TRIGGER IF EXISTS catalogue_version_{_table}_{_op}", "sqlite"))

# --- fraud ------------------------------------------------------------------

fraud_assessments = sa.Table(
    "fraud_assessments", metadata, _id(),
    sa.Column("dedupe_key", sa.String(300), nullable=False, unique=True),  # event:<id> | ...
    sa.Column("subject", sa.String(20), nullable=False),  # player | click
    _fk("player_id", "players.id"),
    _fk("affiliate_id", "affiliates.id"),
    sa.Column("event_id", Id),
    sa.Column("click_id", Id),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("action", sa.String(10), nullable=False),  # allow | flag | hold | reject
    sa.Column("reasons", Json, nullable=False),  # [{family, check, points, reason, evidence}]
    sa.Column("status", sa.String(20), nullable=False),  # open|confirmed|dismissed|superseded
    sa.Column("held", Json),  # what the action held or reversed, with prior statuses
    sa.Column("reviewed_by", sa.String(200)),
    sa.Column("reviewed_at", Time),
    sa.Column("review_note", sa.String(1000)),
    _created(), _updated(),
    sa.Index("ix_fraud_assessments_status_action", "status", "action"),
)

fraud_click_counts = sa.Table(
    "fraud_click_counts", metadata,
    sa.Column("dimension", sa.String(12), nullable=False),  # ip | link | sub | link_h | ...
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("bucket_at", Time, nullable=False),
    sa.Column("clicks", sa.BigInteger, nullable=False, server_default="0"),
    sa.PrimaryKeyConstraint("dimension", "key", "bucket_at"),
)

fraud_identities = sa.Table(
    "fraud_identities", metadata,
    sa.Column("kind", sa.String(12), nullable=False),  # ip | device | payment
    sa.Column("value", sa.String(128), nullable=False),
    sa.Column("player_id", Id, nullable=False),
    sa.Column("brand_id", Id, nullable=False),
    sa.Column("affiliate_id", Id),
    sa.Column("seen_at", Time, nullable=False),
    sa.PrimaryKeyConstraint("kind", "value", "player_id"),
)

# Accepted events waiting for the fraud worker (inserted in the ingesting transaction, deleted
# in the transaction that assesses them), and the worker's click cursor (name → last click).
fraud_queue = sa.Table(
    "fraud_queue", metadata,
    sa.Column("event_id", Id, primary_key=True),
    sa.Column("enqueued_at", Time, nullable=False),
)

fraud_cursors = sa.Table(
    "fraud_cursors", metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("at", Time, nullable=False),
    sa.Column("last_id", Id, nullable=False),
    _updated(),
)

# --- batch import -----------------------------------------------------------

import_profiles = sa.Table(
    "import_profiles", metadata, _id(),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    _fk("integration_id", "integrations.id"),
    sa.Column("kind", sa.String(20)),  # registrations | deposits | trades | activity | chargebacks
    sa.Column("delimiter", sa.String(4), nullable=False, server_default=","),
    sa.Column("columns", Json, nullable=False),  # our field -> the operator's header name
    sa.Column("date_formats", Json),  # strftime formats tried in order; null = ISO 8601
    sa.Column("decimal_comma", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("currency_column", sa.String(200)),
    sa.Column("fixed_currency", sa.String(4)),
    sa.Column("status_words", Json),  # operator's status word -> our event kind or "skip"
    _created(), _updated(),
)

import_jobs = sa.Table(
    "import_jobs", metadata, _id(),
    _fk("integration_id", "integrations.id", nullable=False),
    _fk("profile_id", "import_profiles.id", index=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("policy", sa.String(20), nullable=False),  # reject-file | skip-invalid
    sa.Column("file_name", sa.String(500), nullable=False),
    sa.Column("file_path", sa.String(2000), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # queued|running|succeeded|rejected|failed
    sa.Column("rows_total", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rows_done", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rows_inserted", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rows_duplicate", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rows_invalid", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rows_skipped", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("errors", Json),  # the first errors, {line, column, code, message}
    sa.Column("error_report", sa.Text),  # CSV of every error (capped), for skip-invalid
    sa.Column("message", sa.String(1000)),
    sa.Column("created_by", sa.String(200), nullable=False),
    _created(), _updated(),
    sa.Column("started_at", Time),
    sa.Column("finished_at", Time),
)

# --- reports and people's sign-in --------------------------------------------

# Daily report rollup per affiliate and one dimension value (dim: all | hour | brand | offer |
# link | sub1..sub5 | country | device; value '' for all), per currency ('' for counts only).
# Maintained in the transactions that store events, post ledger entries and (for sub2..sub5
# and device clicks) write clicks; reports read it and click_rollups_hourly, never raw rows.
report_rollups_daily = sa.Table(
    "report_rollups_daily", metadata,
    sa.Column("affiliate_id", Id, nullable=False),
    sa.Column("dim", sa.String(8), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("value", sa.String(255), nullable=False),
    sa.Column("currency", sa.String(4), nullable=False),
    sa.Column("clicks", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("unique_clicks", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("registrations", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("ftds", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("qualified_cpas", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("ftd_amount_minor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("deposits_minor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("bets_minor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("wins_minor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("bonus_minor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("chargebacks_minor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("lots_milli", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("commission_minor", sa.BigInteger, nullable=False, server_default="0"),
    sa.PrimaryKeyConstraint("affiliate_id", "dim", "day", "value", "currency"),
)

# The same rollup summed over every affiliate, for staff views: written with
# report_rollups_daily in the same transactions (store.reports.Folder), so a manager's report
# reads one row per dimension value and day however many affiliates there are.
report_rollups_staff = sa.Table(
    "report_rollups_staff", metadata,
    sa.Column("dim", sa.String(8), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("value", sa.String(255), nullable=False),
    sa.Column("currency", sa.String(4), nullable=False),
    *[sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in (
        "clicks", "unique_clicks", "registrations", "ftds", "qualified_cpas",
        "ftd_amount_minor", "deposits_minor", "bets_minor", "wins_minor", "bonus_minor",
        "chargebacks_minor", "lots_milli", "commission_minor")],
    sa.PrimaryKeyConstraint("dim", "day", "value", "currency"),
)

# How far closed hours of click_rollups_hourly are folded into report_rollups_daily.
report_watermarks = sa.Table(
    "report_watermarks", metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("through_hour", Time, nullable=False),
    _updated(),
)

# Signed-in people: the cookie carries a random token, only its SHA-256 is stored.
web_sessions = sa.Table(
    "web_sessions", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    _fk("user_id", "users.id", nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    _created(),
    sa.Column("expires_at", Time, nullable=False),
    sa.Column("revoked_at", Time),
)
