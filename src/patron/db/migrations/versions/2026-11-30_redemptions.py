"""Validation rules, their assignments, redemptions, rollbacks, validation sessions, and the
customer's redemption counters.

- `validation_rules`: the rule set as sent (`rules` holds the numbered rules and `logic`).
  `validation_rule_assignments` ties a rule to a campaign or voucher (by id), once.
- `redemptions`: successes (`r_…`) and stored failures (`rf_…`). A stacked redemption is a parent
  (`related_object_type` 'redemption', not counted) and one child per redeemable (`parent_id`).
  `order`, `customer` and `voucher` hold the objects as the redemption showed them.
- `redemption_rollbacks`: successes (`rr_…`) and failures (`rrf_…`); a redemption is rolled back
  successfully at most once (`redemption_rollbacks_once`).
- `validation_sessions`: what a `LOCK` session reserves on a voucher (one use, credits, points)
  until `expires_at`.
- `customers.redemptions_*`, `rollbacks_*`, `gift_redeemed`, `loyalty_redeemed`:
  `summary.redemptions` (INCENTIVES.md §0.1, §4.5), moved in the redemption's or rollback's
  transaction.

Revision ID: 0015_redemptions
Revises: 0014_campaign_transactions
Create Date: 2026-11-30
"""

from alembic import op

revision = "0015_redemptions"
down_revision = "0014_campaign_transactions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE validation_rules (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id text NOT NULL,
        name text NOT NULL,
        rules jsonb NOT NULL,
        error jsonb,
        applicable_to jsonb,
        type text NOT NULL DEFAULT 'expression',
        context_type text NOT NULL DEFAULT 'global',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz,
        PRIMARY KEY (project_id, id)
    );
    CREATE INDEX validation_rules_created_at_idx ON validation_rules (project_id, created_at, id);

    CREATE TABLE validation_rule_assignments (
        project_id text NOT NULL,
        id text NOT NULL,
        rule_id text NOT NULL,
        related_object_type text NOT NULL,
        related_object_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, id),
        FOREIGN KEY (project_id, rule_id) REFERENCES validation_rules (project_id, id)
            ON DELETE CASCADE
    );
    CREATE UNIQUE INDEX validation_rule_assignments_key ON validation_rule_assignments
        (project_id, rule_id, related_object_type, related_object_id);
    CREATE INDEX validation_rule_assignments_object_idx
        ON validation_rule_assignments (project_id, related_object_id);

    CREATE TABLE redemptions (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id text NOT NULL,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        parent_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        customer_id text,
        tracking_id text,
        metadata jsonb,
        channel_type text NOT NULL DEFAULT 'API',
        result text NOT NULL CHECK (result IN ('SUCCESS', 'FAILURE')),
        status text NOT NULL CHECK (status IN ('SUCCEEDED', 'FAILED', 'ROLLED_BACK')),
        failure_code text,
        failure_message text,
        error jsonb,
        related_object_type text NOT NULL
            CHECK (related_object_type IN ('voucher', 'promotion_tier', 'redemption')),
        related_object_id text NOT NULL,
        voucher_id text,
        campaign_id text,
        holder_id text,
        -- Gift credits (cents) or loyalty points the redemption took.
        amount bigint,
        gift_credits bigint,
        loyalty_points bigint,
        discount jsonb,
        order_id text,
        "order" jsonb,
        customer jsonb,
        voucher jsonb,
        children text[],
        session_key text,
        PRIMARY KEY (project_id, id)
    );
    CREATE INDEX redemptions_seq_idx ON redemptions (project_id, seq);
    CREATE INDEX redemptions_voucher_idx ON redemptions (project_id, voucher_id, seq)
        WHERE voucher_id IS NOT NULL;
    CREATE INDEX redemptions_customer_idx ON redemptions (project_id, customer_id, campaign_id)
        WHERE customer_id IS NOT NULL;
    CREATE INDEX redemptions_parent_idx ON redemptions (project_id, parent_id)
        WHERE parent_id IS NOT NULL;

    CREATE TABLE redemption_rollbacks (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id text NOT NULL,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        redemption_id text NOT NULL,
        parent_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        customer_id text,
        tracking_id text,
        reason text,
        metadata jsonb,
        channel_type text NOT NULL DEFAULT 'API',
        result text NOT NULL CHECK (result IN ('SUCCESS', 'FAILURE')),
        status text NOT NULL CHECK (status IN ('SUCCEEDED', 'FAILED')),
        failure_code text,
        failure_message text,
        related_object_type text NOT NULL,
        related_object_id text NOT NULL,
        voucher_id text,
        campaign_id text,
        -- Negative: the credits (cents) or points given back.
        amount bigint,
        gift_credits bigint,
        loyalty_points bigint,
        order_id text,
        "order" jsonb,
        customer jsonb,
        voucher jsonb,
        children text[],
        PRIMARY KEY (project_id, id)
    );
    CREATE UNIQUE INDEX redemption_rollbacks_once ON redemption_rollbacks
        (project_id, redemption_id) WHERE result = 'SUCCESS';
    CREATE INDEX redemption_rollbacks_seq_idx ON redemption_rollbacks (project_id, seq);
    CREATE INDEX redemption_rollbacks_voucher_idx
        ON redemption_rollbacks (project_id, voucher_id, seq) WHERE voucher_id IS NOT NULL;
    CREATE INDEX redemption_rollbacks_customer_idx
        ON redemption_rollbacks (project_id, customer_id) WHERE customer_id IS NOT NULL;

    CREATE TABLE validation_sessions (
        project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        voucher_id text NOT NULL,
        key text NOT NULL,
        quantity integer NOT NULL DEFAULT 1,
        credits bigint NOT NULL DEFAULT 0,
        points bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (project_id, voucher_id, key)
    );

    ALTER TABLE customers
        ADD COLUMN redemptions_succeeded bigint NOT NULL DEFAULT 0,
        ADD COLUMN redemptions_failed bigint NOT NULL DEFAULT 0,
        ADD COLUMN rollbacks_succeeded bigint NOT NULL DEFAULT 0,
        ADD COLUMN rollbacks_failed bigint NOT NULL DEFAULT 0,
        ADD COLUMN gift_redeemed bigint NOT NULL DEFAULT 0,
        ADD COLUMN loyalty_redeemed bigint NOT NULL DEFAULT 0;
    """)


def downgrade() -> None:
    op.execute("""
    ALTER TABLE customers
        DROP COLUMN redemptions_succeeded,
        DROP COLUMN redemptions_failed,
        DROP COLUMN rollbacks_succeeded,
        DROP COLUMN rollbacks_failed,
        DROP COLUMN gift_redeemed,
        DROP COLUMN loyalty_redeemed;
    DROP TABLE validation_sessions;
    DROP TABLE redemption_rollbacks;
    DROP TABLE redemptions;
    DROP TABLE validation_rule_assignments;
    DROP TABLE validation_rules;
    """)
