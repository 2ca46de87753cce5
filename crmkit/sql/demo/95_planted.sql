-- The planted truths: parameters per signal, and the customers each per-customer signal hit.
CREATE OR REPLACE TABLE demo_planted (
    signal VARCHAR,
    key VARCHAR,
    value VARCHAR,
    description VARCHAR
);

INSERT INTO demo_planted
SELECT
    unnest($planted_signal),
    unnest($planted_key),
    unnest($planted_value),
    unnest($planted_description);

CREATE OR REPLACE TABLE demo_planted_customers AS
SELECT 'C' || lpad(sk::VARCHAR, 7, '0') AS customer_id, signal
FROM (
    -- silenced by the extra churn of the region (before their natural end)
    SELECT sk, 'churn_region' AS signal FROM _demo_c WHERE region_churned AND k > 0
    UNION ALL
    SELECT sk, 'quiet_high_value' FROM _demo_quiet
    UNION ALL
    SELECT sk, 'duplicate_customers' FROM _demo_c WHERE is_dup
)
ORDER BY signal, customer_id;
