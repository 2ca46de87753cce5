-- Opportunities: B2B customers open about one a year, leads (customers who never bought)
-- often have one, other customers rarely. Old ones are closed (won / lost), recent ones are
-- still in a stage that matches how far along they are.
CREATE OR REPLACE TEMP TABLE _demo_op0 AS
SELECT sk, k, created_at, b2b, orders, owner_team, owner,
    demo_between(created_at, $end_ts, demo_u4(sk, k, $seed, 602)) AS opened_at
FROM (
    SELECT *, unnest(range(m)) AS k
    FROM (
        SELECT
            sk, created_at, b2b, orders, owner_team, owner,
            floor(CASE
                WHEN b2b THEN 0.9 * date_diff('second', created_at, $end_ts) / 31557600
                WHEN orders = 0 THEN 0.4
                ELSE 0.05 * date_diff('second', created_at, $end_ts) / 31557600
            END + demo_u(sk, $seed, 601))::INTEGER AS m
        FROM _demo_cf
    )
    WHERE m > 0
);

INSERT INTO opportunities BY NAME
WITH numbered AS (
    SELECT
        row_number() OVER (ORDER BY opened_at, sk, k) AS no,
        *
    FROM _demo_op0
),
timed AS (
    SELECT
        *,
        -- days from opening to the decision
        7 + 60 * -ln(1 - demo_u(no, $seed, 610)) AS cycle_days
    FROM numbered
),
staged AS (
    SELECT
        *,
        opened_at + to_seconds(floor(86400 * cycle_days)::BIGINT) AS decided_at,
        date_diff('second', opened_at, $end_ts) / (86400 * cycle_days) AS progress
    FROM timed
)
SELECT
    'OP' || lpad(no::VARCHAR, 7, '0') AS opportunity_id,
    'C' || lpad(sk::VARCHAR, 7, '0') AS customer_id,
    sk AS customer_sk,
    CASE
        WHEN decided_at < $end_ts THEN
            CASE WHEN demo_u(no, $seed, 611)
                < CASE WHEN orders = 0 THEN 0.2 WHEN b2b THEN 0.35 ELSE 0.45 END
                THEN 'won' ELSE 'lost' END
        WHEN progress < 0.25 THEN 'lead'
        WHEN progress < 0.5 THEN 'qualified'
        WHEN progress < 0.75 THEN 'proposal'
        ELSE 'negotiation'
    END AS stage,
    (100 * round(CASE WHEN b2b THEN 500 ELSE 50 END
        * exp(0.9 * demo_norm(no, $seed, 612))))::DECIMAL(18, 2) AS amount,
    demo_pick($opportunity_sources, demo_u(no, $seed, 613)) AS source,
    CASE WHEN owner_team = 'sales' THEN owner
        ELSE demo_pick(list_element($staff, list_position($staff_teams, 'sales')),
                       demo_u(no, $seed, 614))
    END AS owner,
    opened_at,
    CASE
        WHEN decided_at < $end_ts THEN decided_at
        WHEN progress < 0.25 THEN opened_at
        ELSE opened_at + to_seconds(floor(86400 * cycle_days
            * floor(4 * least(progress, 0.99)) / 4)::BIGINT)
    END AS stage_changed_at,
    CASE WHEN decided_at < $end_ts THEN decided_at END AS closed_at
FROM staged
ORDER BY no;

DROP TABLE _demo_op0;
