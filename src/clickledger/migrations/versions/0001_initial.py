"""initial data model for all six stages

Revision ID: 0001_initial
Revises: 
Create Date: 2026-11-28 20:27:30.232974
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001_initial'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('affiliates',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('parent_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='pending', nullable=False),
    sa.Column('payout_currency', sa.String(length=4), nullable=False),
    sa.Column('payment_method', sa.String(length=20), nullable=True),
    sa.Column('payment_details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('pending_payment_details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('payout_threshold_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('login_ips', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['affiliates.id'], name=op.f('fk_affiliates_parent_id_affiliates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_affiliates')),
    sa.UniqueConstraint('email', name=op.f('uq_affiliates_email'))
    )
    with op.batch_alter_table('affiliates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_affiliates_parent_id'), ['parent_id'], unique=False)

    op.create_table('audit_log',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('entity', sa.String(length=60), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('before', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('after', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
    # The audit log is append-only: the same triggers as store/tables.py (keep identical).
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
                   "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")
        op.execute("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
                   "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")
    elif op.get_bind().dialect.name == 'postgresql':
        op.execute("CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger "
                   "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; "
                   "END $$")
        op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()")

    op.create_table('brands',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('default_currency', sa.String(length=4), nullable=False),
    sa.Column('fallback_url', sa.String(length=2000), nullable=True),
    sa.Column('ngr_deduct_bonuses', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('ngr_deduct_chargebacks', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('ngr_admin_fee_pct', sa.String(length=20), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=20), server_default='active', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_brands')),
    sa.UniqueConstraint('name', name=op.f('uq_brands_name'))
    )
    op.create_table('click_rollups_hourly',
    sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('link_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('offer_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('sub1', sa.String(length=255), server_default='', nullable=False),
    sa.Column('country', sa.String(length=2), server_default='', nullable=False),
    sa.Column('clicks', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('unique_clicks', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('hour', 'affiliate_id', 'link_id', 'offer_id', 'sub1', 'country', name=op.f('pk_click_rollups_hourly'))
    )
    op.create_table('clicks',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('link_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('offer_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('sub1', sa.String(length=255), nullable=True),
    sa.Column('sub2', sa.String(length=255), nullable=True),
    sa.Column('sub3', sa.String(length=255), nullable=True),
    sa.Column('sub4', sa.String(length=255), nullable=True),
    sa.Column('sub5', sa.String(length=255), nullable=True),
    sa.Column('extra', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=1024), nullable=True),
    sa.Column('referrer', sa.String(length=2048), nullable=True),
    sa.Column('accept_language', sa.String(length=255), nullable=True),
    sa.Column('visitor_key', sa.String(length=64), nullable=True),
    sa.Column('is_unique', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('device', sa.String(length=40), nullable=True),
    sa.Column('os', sa.String(length=60), nullable=True),
    sa.Column('browser', sa.String(length=60), nullable=True),
    sa.Column('is_bot', sa.Boolean(), nullable=True),
    sa.Column('enriched_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clicks'))
    )
    with op.batch_alter_table('clicks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clicks_created_at'), ['created_at'], unique=False)

    op.create_table('fx_rates',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('base', sa.String(length=4), nullable=False),
    sa.Column('quote', sa.String(length=4), nullable=False),
    sa.Column('rate', sa.String(length=40), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fx_rates')),
    sa.UniqueConstraint('day', 'base', 'quote', 'source', name=op.f('uq_fx_rates_day_base_quote_source'))
    )
    op.create_table('integration_health_hourly',
    sa.Column('integration_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('duplicates', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('rejected', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('lag_ms_sum', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('lag_ms_max', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('integration_id', 'hour', name=op.f('pk_integration_health_hourly'))
    )
    op.create_table('payout_runs',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('approved_by', sa.String(length=200), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_runs')),
    sa.UniqueConstraint('period_start', 'period_end', name=op.f('uq_payout_runs_period_start_period_end'))
    )
    op.create_table('periods',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='open', nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_periods')),
    sa.UniqueConstraint('starts_at', name=op.f('uq_periods_starts_at'))
    )
    op.create_table('deals',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('brand_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('currency', sa.String(length=4), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='active', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_deals_brand_id_brands')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deals')),
    sa.UniqueConstraint('name', name=op.f('uq_deals_name'))
    )
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deals_brand_id'), ['brand_id'], unique=False)

    op.create_table('integrations',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('brand_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('signing_secret', sa.String(length=200), nullable=False),
    sa.Column('require_signature', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('ip_allowlist', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('parameter_map', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('status_map', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('pixel_key', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='active', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_integrations_brand_id_brands')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integrations')),
    sa.UniqueConstraint('name', name=op.f('uq_integrations_name')),
    sa.UniqueConstraint('pixel_key', name=op.f('uq_integrations_pixel_key'))
    )
    with op.batch_alter_table('integrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_integrations_brand_id'), ['brand_id'], unique=False)

    op.create_table('offers',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('brand_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('landing_url', sa.String(length=2000), nullable=False),
    sa.Column('allowed_domains', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='active', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_offers_brand_id_brands')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offers'))
    )
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offers_brand_id'), ['brand_id'], unique=False)

    op.create_table('payouts',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('run_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=4), nullable=False),
    sa.Column('payout_amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('payout_currency', sa.String(length=4), nullable=False),
    sa.Column('fx_rate', sa.String(length=40), nullable=True),
    sa.Column('gross_minor', sa.BigInteger(), nullable=True),
    sa.Column('fees_minor', sa.BigInteger(), nullable=True),
    sa.Column('withholding_minor', sa.BigInteger(), nullable=True),
    sa.Column('lines', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('method', sa.String(length=20), nullable=True),
    sa.Column('payment_details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('payment_reference', sa.String(length=200), nullable=True),
    sa.Column('failure_reason', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_payouts_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['run_id'], ['payout_runs.id'], name=op.f('fk_payouts_run_id_payout_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payouts')),
    sa.UniqueConstraint('run_id', 'affiliate_id', 'currency', name=op.f('uq_payouts_run_id_affiliate_id_currency'))
    )
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payouts_affiliate_id'), ['affiliate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payouts_run_id'), ['run_id'], unique=False)

    op.create_table('payout_deductions',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('percent', sa.String(length=20), server_default='0', nullable=False),
    sa.Column('fixed_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=4), nullable=True),
    sa.Column('method', sa.String(length=20), nullable=True),
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_payout_deductions_affiliate_id_affiliates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_deductions'))
    )
    with op.batch_alter_table('payout_deductions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_deductions_affiliate_id'), ['affiliate_id'], unique=False)

    op.create_table('reconciliation_runs',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('brand_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('statement_kind', sa.String(length=30), nullable=False),
    sa.Column('file_name', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('tolerance_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('summary', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_reconciliation_runs_brand_id_brands')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_runs'))
    )
    with op.batch_alter_table('reconciliation_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reconciliation_runs_brand_id'), ['brand_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_users_affiliate_id_affiliates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_affiliate_id'), ['affiliate_id'], unique=False)

    op.create_table('api_keys',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('secret_hash', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('integration_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_api_keys_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_api_keys_integration_id_integrations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('prefix', name=op.f('uq_api_keys_prefix'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_affiliate_id'), ['affiliate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_keys_integration_id'), ['integration_id'], unique=False)

    op.create_table('deal_assignments',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('deal_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('effective_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('effective_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('overrides', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_deal_assignments_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_deal_assignments_deal_id_deals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deal_assignments'))
    )
    with op.batch_alter_table('deal_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deal_assignments_affiliate_id'), ['affiliate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deal_assignments_deal_id'), ['deal_id'], unique=False)

    op.create_table('deal_versions',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('deal_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('terms', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_deal_versions_deal_id_deals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deal_versions')),
    sa.UniqueConstraint('deal_id', 'version', name=op.f('uq_deal_versions_deal_id_version'))
    )
    with op.batch_alter_table('deal_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deal_versions_deal_id'), ['deal_id'], unique=False)

    op.create_table('ingest_rejections',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('integration_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('reason_code', sa.String(length=60), nullable=False),
    sa.Column('message', sa.String(length=1000), nullable=False),
    sa.Column('excerpt', sa.String(length=2000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_ingest_rejections_integration_id_integrations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_rejections'))
    )
    with op.batch_alter_table('ingest_rejections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ingest_rejections_integration_id'), ['integration_id'], unique=False)

    op.create_table('postback_templates',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('offer_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('event_kind', sa.String(length=20), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('url_template', sa.String(length=2000), nullable=False),
    sa.Column('status_words', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('webhook_secret', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='active', nullable=False),
    sa.Column('disabled_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_postback_templates_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], name=op.f('fk_postback_templates_offer_id_offers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postback_templates'))
    )
    with op.batch_alter_table('postback_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_postback_templates_affiliate_id'), ['affiliate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_postback_templates_offer_id'), ['offer_id'], unique=False)

    op.create_table('promo_codes',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('brand_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('offer_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='active', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_promo_codes_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_promo_codes_brand_id_brands')),
    sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], name=op.f('fk_promo_codes_offer_id_offers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promo_codes')),
    sa.UniqueConstraint('code', name=op.f('uq_promo_codes_code'))
    )
    with op.batch_alter_table('promo_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_promo_codes_affiliate_id'), ['affiliate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_promo_codes_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_promo_codes_offer_id'), ['offer_id'], unique=False)

    op.create_table('reconciliation_items',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('run_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=True),
    sa.Column('match_key', sa.String(length=300), nullable=False),
    sa.Column('flag', sa.String(length=30), nullable=False),
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('operator_affiliate_id', sa.String(length=128), nullable=True),
    sa.Column('ours_minor', sa.BigInteger(), nullable=True),
    sa.Column('theirs_minor', sa.BigInteger(), nullable=True),
    sa.Column('difference_minor', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=4), nullable=True),
    sa.Column('theirs_currency', sa.String(length=4), nullable=True),
    sa.Column('proposed_adjustment_minor', sa.BigInteger(), nullable=True),
    sa.Column('decision', sa.String(length=20), server_default='none', nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ledger_entry_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_reconciliation_items_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['run_id'], ['reconciliation_runs.id'], name=op.f('fk_reconciliation_items_run_id_reconciliation_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_items'))
    )
    with op.batch_alter_table('reconciliation_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reconciliation_items_affiliate_id'), ['affiliate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reconciliation_items_run_id'), ['run_id'], unique=False)

    op.create_table('tracking_links',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('offer_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('sub1', sa.String(length=255), nullable=True),
    sa.Column('sub2', sa.String(length=255), nullable=True),
    sa.Column('sub3', sa.String(length=255), nullable=True),
    sa.Column('sub4', sa.String(length=255), nullable=True),
    sa.Column('sub5', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='active', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_tracking_links_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], name=op.f('fk_tracking_links_offer_id_offers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tracking_links')),
    sa.UniqueConstraint('code', name=op.f('uq_tracking_links_code'))
    )
    with op.batch_alter_table('tracking_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tracking_links_affiliate_id'), ['affiliate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tracking_links_offer_id'), ['offer_id'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('dedupe_key', sa.String(length=300), nullable=False),
    sa.Column('template_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('event_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('url', sa.String(length=4000), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('headers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=1000), nullable=True),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resend_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_outbox_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['template_id'], ['postback_templates.id'], name=op.f('fk_outbox_template_id_postback_templates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbox_dedupe_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_affiliate_id'), ['affiliate_id'], unique=False)
        batch_op.create_index('ix_outbox_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_template_id'), ['template_id'], unique=False)

    op.create_table('players',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('brand_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('operator_player_id', sa.String(length=128), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('click_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('promo_code_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('attribution', sa.String(length=20), server_default='pending', nullable=False),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('ftd_event_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('ftd_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_players_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_players_brand_id_brands')),
    sa.ForeignKeyConstraint(['promo_code_id'], ['promo_codes.id'], name=op.f('fk_players_promo_code_id_promo_codes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_players')),
    sa.UniqueConstraint('brand_id', 'operator_player_id', name=op.f('uq_players_brand_id_operator_player_id'))
    )
    with op.batch_alter_table('players', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_players_affiliate_id'), ['affiliate_id'], unique=False)

    op.create_table('conversions',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('player_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('deal_version_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('event_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('deal_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('qualified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_conversions_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['deal_version_id'], ['deal_versions.id'], name=op.f('fk_conversions_deal_version_id_deal_versions')),
    sa.ForeignKeyConstraint(['player_id'], ['players.id'], name=op.f('fk_conversions_player_id_players')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversions')),
    sa.UniqueConstraint('player_id', 'kind', name=op.f('uq_conversions_player_id_kind'))
    )
    with op.batch_alter_table('conversions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversions_affiliate_id'), ['affiliate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversions_player_id'), ['player_id'], unique=False)

    op.create_table('outbox_attempts',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('outbox_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('cycle', sa.Integer(), server_default='0', nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response_excerpt', sa.String(length=1000), nullable=True),
    sa.Column('error', sa.String(length=1000), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_outbox_attempts_outbox_id_outbox')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_attempts'))
    )
    with op.batch_alter_table('outbox_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_attempts_outbox_id'), ['outbox_id'], unique=False)

    op.create_table('player_events',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('integration_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('txn_id', sa.String(length=255), nullable=False),
    sa.Column('payload_hash', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('brand_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('operator_player_id', sa.String(length=128), nullable=False),
    sa.Column('player_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=4), nullable=True),
    sa.Column('lots_milli', sa.BigInteger(), nullable=True),
    sa.Column('instrument', sa.String(length=64), nullable=True),
    sa.Column('account_type', sa.String(length=64), nullable=True),
    sa.Column('spread_minor', sa.BigInteger(), nullable=True),
    sa.Column('bets_minor', sa.BigInteger(), nullable=True),
    sa.Column('wins_minor', sa.BigInteger(), nullable=True),
    sa.Column('bonus_minor', sa.BigInteger(), nullable=True),
    sa.Column('chargebacks_minor', sa.BigInteger(), nullable=True),
    sa.Column('activity_day', sa.Date(), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('click_id', sa.String(length=64), nullable=True),
    sa.Column('promo_code', sa.String(length=64), nullable=True),
    sa.Column('status_raw', sa.String(length=64), nullable=True),
    sa.Column('reverses_txn_id', sa.String(length=255), nullable=True),
    sa.Column('raw', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_player_events_brand_id_brands')),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_player_events_integration_id_integrations')),
    sa.ForeignKeyConstraint(['player_id'], ['players.id'], name=op.f('fk_player_events_player_id_players')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_player_events')),
    sa.UniqueConstraint('integration_id', 'txn_id', name=op.f('uq_player_events_integration_id_txn_id'))
    )
    with op.batch_alter_table('player_events', schema=None) as batch_op:
        batch_op.create_index('ix_player_events_brand_player', ['brand_id', 'operator_player_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_player_events_player_id'), ['player_id'], unique=False)
        batch_op.create_index('ix_player_events_reverses', ['integration_id', 'reverses_txn_id'], unique=False)

    op.create_table('ledger_entries',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('entry_key', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('player_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=4), nullable=False),
    sa.Column('deal_version_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('deal_type', sa.String(length=20), nullable=True),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('source_event_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reverses_entry_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('conversion_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('reconciliation_item_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('payout_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('explanation', sa.String(length=1000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_ledger_entries_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['conversion_id'], ['conversions.id'], name=op.f('fk_ledger_entries_conversion_id_conversions')),
    sa.ForeignKeyConstraint(['deal_version_id'], ['deal_versions.id'], name=op.f('fk_ledger_entries_deal_version_id_deal_versions')),
    sa.ForeignKeyConstraint(['player_id'], ['players.id'], name=op.f('fk_ledger_entries_player_id_players')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    sa.UniqueConstraint('entry_key', name=op.f('uq_ledger_entries_entry_key'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entries_affiliate_id'), ['affiliate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_player_id'), ['player_id'], unique=False)




    op.create_table('import_profiles',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('integration_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=True),
    sa.Column('delimiter', sa.String(length=4), server_default=',', nullable=False),
    sa.Column('columns', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('date_formats', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('decimal_comma', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('currency_column', sa.String(length=200), nullable=True),
    sa.Column('fixed_currency', sa.String(length=4), nullable=True),
    sa.Column('status_words', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_import_profiles_integration_id_integrations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_profiles')),
    sa.UniqueConstraint('name', name=op.f('uq_import_profiles_name'))
    )
    with op.batch_alter_table('import_profiles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_profiles_integration_id'), ['integration_id'], unique=False)

    op.create_table('import_jobs',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('integration_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('profile_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('policy', sa.String(length=20), nullable=False),
    sa.Column('file_name', sa.String(length=500), nullable=False),
    sa.Column('file_path', sa.String(length=2000), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('rows_total', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('rows_done', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('rows_inserted', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('rows_duplicate', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('rows_invalid', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('rows_skipped', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('errors', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error_report', sa.Text(), nullable=True),
    sa.Column('message', sa.String(length=1000), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_import_jobs_integration_id_integrations')),
    sa.ForeignKeyConstraint(['profile_id'], ['import_profiles.id'], name=op.f('fk_import_jobs_profile_id_import_profiles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_jobs'))
    )
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_jobs_integration_id'), ['integration_id'], unique=False)

    op.create_table('fraud_assessments',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('dedupe_key', sa.String(length=300), nullable=False),
    sa.Column('subject', sa.String(length=20), nullable=False),
    sa.Column('player_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('event_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('click_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('reasons', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('held', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('reviewed_by', sa.String(length=200), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_note', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_fraud_assessments_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['player_id'], ['players.id'], name=op.f('fk_fraud_assessments_player_id_players')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fraud_assessments')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_fraud_assessments_dedupe_key'))
    )
    with op.batch_alter_table('fraud_assessments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fraud_assessments_affiliate_id'), ['affiliate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fraud_assessments_player_id'), ['player_id'], unique=False)
        batch_op.create_index('ix_fraud_assessments_status_action', ['status', 'action'], unique=False)

    op.create_table('fraud_click_counts',
    sa.Column('dimension', sa.String(length=12), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('bucket_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('clicks', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('dimension', 'key', 'bucket_at', name=op.f('pk_fraud_click_counts'))
    )
    op.create_table('fraud_identities',
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('value', sa.String(length=128), nullable=False),
    sa.Column('player_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('brand_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=True),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'value', 'player_id', name=op.f('pk_fraud_identities'))
    )
    op.create_table('fraud_queue',
    sa.Column('event_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_fraud_queue'))
    )
    op.create_table('fraud_cursors',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_fraud_cursors'))
    )

    op.create_table('revshare_balances',
    sa.Column('id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('deal_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('currency', sa.String(length=4), nullable=False),
    sa.Column('ngr', sa.String(length=60), nullable=False),
    sa.Column('carry_in', sa.String(length=60), nullable=False),
    sa.Column('carry_out', sa.String(length=60), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_revshare_balances_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_revshare_balances_deal_id_deals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revshare_balances')),
    sa.UniqueConstraint('affiliate_id', 'deal_id', 'period_start', name=op.f('uq_revshare_balances_affiliate_id_deal_id_period_start'))
    )

    op.create_table('report_rollups_daily',
    sa.Column('affiliate_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('dim', sa.String(length=8), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('currency', sa.String(length=4), nullable=False),
    sa.Column('clicks', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('unique_clicks', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('registrations', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('ftds', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('qualified_cpas', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('ftd_amount_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('deposits_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('bets_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('wins_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('bonus_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('chargebacks_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('lots_milli', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('commission_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('affiliate_id', 'dim', 'day', 'value', 'currency', name=op.f('pk_report_rollups_daily'))
    )
    with op.batch_alter_table('report_rollups_daily', schema=None) as batch_op:
        batch_op.create_index('ix_report_rollups_daily_dim_day', ['dim', 'day'], unique=False)

    op.create_table('report_watermarks',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('through_hour', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_report_watermarks'))
    )
    op.create_table('web_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Uuid(as_uuid=False), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_web_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_web_sessions'))
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_user_id'))

    op.drop_table('web_sessions')
    op.drop_table('report_watermarks')
    with op.batch_alter_table('report_rollups_daily', schema=None) as batch_op:
        batch_op.drop_index('ix_report_rollups_daily_dim_day')

    op.drop_table('report_rollups_daily')
    op.drop_table('fraud_cursors')
    op.drop_table('fraud_queue')
    op.drop_table('fraud_identities')
    op.drop_table('fraud_click_counts')
    with op.batch_alter_table('fraud_assessments', schema=None) as batch_op:
        batch_op.drop_index('ix_fraud_assessments_status_action')
        batch_op.drop_index(batch_op.f('ix_fraud_assessments_player_id'))
        batch_op.drop_index(batch_op.f('ix_fraud_assessments_affiliate_id'))

    op.drop_table('fraud_assessments')
    op.drop_table('revshare_balances')
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_jobs_integration_id'))

    op.drop_table('import_jobs')
    with op.batch_alter_table('import_profiles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_profiles_integration_id'))

    op.drop_table('import_profiles')

    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entries_player_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_affiliate_id'))

    op.drop_table('ledger_entries')
    with op.batch_alter_table('player_events', schema=None) as batch_op:
        batch_op.drop_index('ix_player_events_reverses')
        batch_op.drop_index(batch_op.f('ix_player_events_player_id'))
        batch_op.drop_index('ix_player_events_brand_player')

    op.drop_table('player_events')
    with op.batch_alter_table('outbox_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_attempts_outbox_id'))

    op.drop_table('outbox_attempts')
    with op.batch_alter_table('conversions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversions_player_id'))
        batch_op.drop_index(batch_op.f('ix_conversions_affiliate_id'))

    op.drop_table('conversions')
    with op.batch_alter_table('players', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_players_affiliate_id'))

    op.drop_table('players')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_template_id'))
        batch_op.drop_index('ix_outbox_due')
        batch_op.drop_index(batch_op.f('ix_outbox_affiliate_id'))

    op.drop_table('outbox')
    with op.batch_alter_table('tracking_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tracking_links_offer_id'))
        batch_op.drop_index(batch_op.f('ix_tracking_links_affiliate_id'))

    op.drop_table('tracking_links')
    with op.batch_alter_table('reconciliation_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reconciliation_items_run_id'))
        batch_op.drop_index(batch_op.f('ix_reconciliation_items_affiliate_id'))

    op.drop_table('reconciliation_items')
    with op.batch_alter_table('promo_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_promo_codes_offer_id'))
        batch_op.drop_index(batch_op.f('ix_promo_codes_brand_id'))
        batch_op.drop_index(batch_op.f('ix_promo_codes_affiliate_id'))

    op.drop_table('promo_codes')
    with op.batch_alter_table('postback_templates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postback_templates_offer_id'))
        batch_op.drop_index(batch_op.f('ix_postback_templates_affiliate_id'))

    op.drop_table('postback_templates')
    with op.batch_alter_table('ingest_rejections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ingest_rejections_integration_id'))

    op.drop_table('ingest_rejections')
    with op.batch_alter_table('deal_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deal_versions_deal_id'))

    op.drop_table('deal_versions')
    with op.batch_alter_table('deal_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deal_assignments_deal_id'))
        batch_op.drop_index(batch_op.f('ix_deal_assignments_affiliate_id'))

    op.drop_table('deal_assignments')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_integration_id'))
        batch_op.drop_index(batch_op.f('ix_api_keys_affiliate_id'))

    op.drop_table('api_keys')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_affiliate_id'))

    op.drop_table('users')
    with op.batch_alter_table('reconciliation_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reconciliation_runs_brand_id'))

    op.drop_table('reconciliation_runs')
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payouts_run_id'))
        batch_op.drop_index(batch_op.f('ix_payouts_affiliate_id'))

    op.drop_table('payouts')
    with op.batch_alter_table('payout_deductions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_deductions_affiliate_id'))

    op.drop_table('payout_deductions')
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offers_brand_id'))

    op.drop_table('offers')
    with op.batch_alter_table('integrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_integrations_brand_id'))

    op.drop_table('integrations')
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deals_brand_id'))

    op.drop_table('deals')
    op.drop_table('periods')
    op.drop_table('payout_runs')
    op.drop_table('integration_health_hourly')
    op.drop_table('fx_rates')
    with op.batch_alter_table('clicks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clicks_created_at'))

    op.drop_table('clicks')
    op.drop_table('click_rollups_hourly')
    op.drop_table('brands')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    with op.batch_alter_table('affiliates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_affiliates_parent_id'))

    op.drop_table('affiliates')

