-- Planted quiet_high_value: 2 % of all customers, drawn from the top monetary decile
-- (completed orders before the reference date), with at least two years of tenure and
-- quiet_min_orders orders, still active at the end, stop ordering 200-229 days before the end.
CREATE OR REPLACE TEMP TABLE _demo_quiet AS
WITH before AS (
    SELECT sk, sum(amount_c) AS monetary, count(*) AS orders
    FROM _demo_o
    WHERE status = 1 AND ts_s < $quiet_ref_s
    GROUP BY sk
),
ranked AS (
    SELECT
        *,
        row_number() OVER (ORDER BY monetary DESC, sk) AS monetary_rank,
        count(*) OVER () AS buyers
    FROM before
)
SELECT
    r.sk,
    $end_s - 86400 * ($quiet_min_days
        + floor($quiet_span_days * demo_u(r.sk, $seed, 190))::BIGINT) AS stop_s
FROM ranked r
JOIN _demo_c c ON c.sk = r.sk
WHERE r.monetary_rank <= r.buyers / 10
    AND r.orders >= $quiet_min_orders
    AND c.created_at < $quiet_min_tenure_ts
    AND c.end_active >= $end_ts - INTERVAL 1 SECOND
    AND NOT c.is_dup
QUALIFY row_number() OVER (ORDER BY hash(r.sk, $seed, 191), r.sk) <= $quiet_count;
