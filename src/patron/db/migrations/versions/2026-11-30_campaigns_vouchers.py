"""Campaigns, vouchers, their balance transactions, publications, and the customer's balances.

- `campaigns`: a name unique in its project, binned ones included (a binned campaign keeps its
  name until it is deleted with `force`). `voucher` holds the template its codes are made from
  (type, discount, gift, loyalty_card, redemption, code_config), with the effective code_config.
- `vouchers`: codes unique project-wide, binned ones included. Gift cards keep
  `gift_amount` (credits ever added, the initial amount included), `gift_subtracted` (removed by
  hand) and `balance`; loyalty cards keep `loyalty_points` (ever earned), `loyalty_subtracted`,
  `loyalty_expired`, `loyalty_pending`, `redeemed_points` and `balance`. `balance` is never
  below zero. `holder_id` is the customer the code was published to.
- `voucher_transactions`: every change of a balance, in order (`seq`).
- `publications`: successes and failures; a `source_id` names at most one success.
- `customers.gift_balance` and `customers.loyalty_balance` are the sums of the balances of the
  gift and loyalty cards the customer holds, and `customers.loyalty_campaigns` is
  `{<campaign name>: {"points": balance}}` for each loyalty program the customer holds a card
  of; all three are moved in the transaction that changes a held card (writes/vouchers.py).
- `projects.asset_key` signs the URLs of the vouchers' QR codes and barcodes.

Revision ID: 0013_campaigns_vouchers
Revises: 0012_client_rate_limit
Create Date: 2026-11-30
"""

from alembic import op

revision = "0013_campaigns_vouchers"
down_revision = "0012_client_rate_limit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE campaigns (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id text NOT NULL,
        name text NOT NULL,
        description text,
        campaign_type text NOT NULL CHECK (campaign_type IN (
            'DISCOUNT_COUPONS', 'GIFT_VOUCHERS', 'LOYALTY_PROGRAM', 'REFERRAL_PROGRAM',
            'PROMOTION')),
        type text NOT NULL CHECK (type IN ('AUTO_UPDATE', 'STATIC', 'STANDALONE')),
        join_once boolean NOT NULL DEFAULT false,
        auto_join boolean NOT NULL DEFAULT false,
        use_voucher_metadata_schema boolean NOT NULL DEFAULT false,
        voucher jsonb NOT NULL,
        activity_duration_after_publishing text,
        start_date timestamptz,
        expiration_date timestamptz,
        validity_timeframe jsonb,
        validity_day_of_week jsonb,
        validity_hours jsonb,
        active boolean NOT NULL DEFAULT true,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        category text,
        creation_status text NOT NULL DEFAULT 'DONE',
        vouchers_generation_status text NOT NULL DEFAULT 'DONE',
        referral_program jsonb,
        loyalty_tiers_expiration jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz,
        deleted_at timestamptz,
        PRIMARY KEY (project_id, id)
    );
    CREATE UNIQUE INDEX campaigns_name_key ON campaigns (project_id, name);
    CREATE INDEX campaigns_created_at_idx ON campaigns (project_id, created_at, id)
        WHERE deleted_at IS NULL;

    CREATE TABLE vouchers (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id text NOT NULL,
        code text NOT NULL,
        campaign_id text,
        -- A standalone voucher's own; a campaign's vouchers show their campaign's.
        code_config jsonb,
        category text,
        type text NOT NULL CHECK (type IN ('DISCOUNT_VOUCHER', 'GIFT_VOUCHER', 'LOYALTY_CARD')),
        discount jsonb,
        gift_amount bigint,
        gift_subtracted bigint,
        gift_effect text,
        loyalty_points bigint,
        loyalty_subtracted bigint,
        loyalty_expired bigint,
        loyalty_pending bigint,
        redeemed_amount bigint NOT NULL DEFAULT 0,
        redeemed_points bigint NOT NULL DEFAULT 0,
        balance bigint CHECK (balance >= 0),
        start_date timestamptz,
        expiration_date timestamptz,
        validity_timeframe jsonb,
        validity_day_of_week jsonb,
        validity_hours jsonb,
        active boolean NOT NULL DEFAULT true,
        additional_info text,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        is_referral_code boolean NOT NULL DEFAULT false,
        redemption_quantity integer CHECK (redemption_quantity >= 0),
        redeemed_quantity integer NOT NULL DEFAULT 0,
        publish_count integer NOT NULL DEFAULT 0,
        holder_id text,
        referrer_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz,
        deleted_at timestamptz,
        PRIMARY KEY (project_id, id)
    );
    CREATE UNIQUE INDEX vouchers_code_key ON vouchers (project_id, code);
    CREATE INDEX vouchers_created_at_idx ON vouchers (project_id, created_at, id)
        WHERE deleted_at IS NULL;
    CREATE INDEX vouchers_campaign_idx ON vouchers (project_id, campaign_id, created_at, id)
        WHERE deleted_at IS NULL;
    CREATE INDEX vouchers_holder_idx ON vouchers (project_id, holder_id, campaign_id)
        WHERE holder_id IS NOT NULL AND deleted_at IS NULL;
    -- The codes a campaign can still publish, found without reading the published ones.
    CREATE INDEX vouchers_unpublished_idx ON vouchers (project_id, campaign_id, created_at, id)
        WHERE holder_id IS NULL AND deleted_at IS NULL;

    CREATE TABLE voucher_transactions (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id text NOT NULL,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        voucher_id text NOT NULL,
        campaign_id text,
        source_id text,
        source text,
        reason text,
        type text NOT NULL,
        amount bigint NOT NULL,
        details jsonb NOT NULL,
        related_transaction_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, id)
    );
    CREATE INDEX voucher_transactions_voucher_idx
        ON voucher_transactions (project_id, voucher_id, seq);

    CREATE TABLE publications (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id text NOT NULL,
        campaign_id text,
        customer_id text,
        tracking_id text,
        source_id text,
        channel text,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        result text NOT NULL CHECK (result IN ('SUCCESS', 'FAILURE')),
        failure_code text,
        failure_message text,
        voucher_ids text[] NOT NULL DEFAULT '{}',
        -- The customer and the vouchers as the publication showed them.
        customer jsonb,
        vouchers jsonb NOT NULL DEFAULT '[]'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, id)
    );
    CREATE UNIQUE INDEX publications_source_id_key ON publications (project_id, source_id)
        WHERE source_id IS NOT NULL AND result = 'SUCCESS';
    CREATE INDEX publications_created_at_idx ON publications (project_id, created_at, id);
    CREATE INDEX publications_customer_idx ON publications (project_id, customer_id);

    ALTER TABLE customers
        ADD COLUMN gift_balance bigint NOT NULL DEFAULT 0,
        ADD COLUMN loyalty_balance bigint NOT NULL DEFAULT 0,
        ADD COLUMN loyalty_campaigns jsonb NOT NULL DEFAULT '{}'::jsonb;

    ALTER TABLE projects ADD COLUMN asset_key bytea NOT NULL DEFAULT decode(
        replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex');
    """)


def downgrade() -> None:
    op.execute("""
    ALTER TABLE projects DROP COLUMN asset_key;
    ALTER TABLE customers
        DROP COLUMN gift_balance,
        DROP COLUMN loyalty_balance,
        DROP COLUMN loyalty_campaigns;
    DROP TABLE publications;
    DROP TABLE voucher_transactions;
    DROP TABLE vouchers;
    DROP TABLE campaigns;
    """)
