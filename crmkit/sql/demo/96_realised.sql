-- Realised sizes of the planted signals in this run, measured on the final tables the way an
-- analysis would; the description says how each number is defined.
INSERT INTO demo_planted
WITH
breach AS (
    SELECT
        channel = $slow_channel AS slow,
        avg(CASE WHEN first_response_at IS NULL
                   OR first_response_at > opened_at + INTERVAL 2 HOUR THEN 1 ELSE 0 END)
            AS share
    FROM tickets
    GROUP BY ALL
),
returns AS (
    SELECT
        product_sk = $hr_product AS hr,
        avg(CASE WHEN status = 'returned' THEN 1 ELSE 0 END) AS rate
    FROM orders
    GROUP BY ALL
),
need AS (
    SELECT
        CASE WHEN ts < $train_ramp_start THEN 'first_year'
             WHEN ts >= $train_ramp_end THEN 'last_quarter' END AS period,
        avg(CASE WHEN regexp_matches(lower(text), '培训|教程|training|tutorial') THEN 1 ELSE 0 END)
            AS share
    FROM feedback
    WHERE text IS NOT NULL
    GROUP BY ALL
),
nps AS (
    SELECT
        o.delivered_at::DATE > o.promised_date AS late,
        avg(f.nps) AS mean_nps
    FROM feedback f
    JOIN orders o ON o.order_id = f.order_id
    WHERE f.source = 'survey' AND f.nps IS NOT NULL
    GROUP BY ALL
),
listed AS (
    SELECT signal, count(*) AS n FROM demo_planted_customers GROUP BY ALL
),
realised (signal, key, value, description) AS (
    SELECT 'slow_sla_channel', CASE WHEN slow THEN 'realised_breach_share'
            ELSE 'realised_baseline_breach_share' END, round(share, 4)::VARCHAR,
        'tickets with no first response or one more than 2 hours after opened_at / all tickets, '
        || CASE WHEN slow THEN 'on the slow channel' ELSE 'on all other channels' END
    FROM breach
    UNION ALL
    SELECT 'high_return_product', CASE WHEN hr THEN 'realised_return_rate'
            ELSE 'realised_baseline_return_rate' END, round(rate, 4)::VARCHAR,
        'returned orders / all orders, '
        || CASE WHEN hr THEN 'of the product' ELSE 'of all other products' END
    FROM returns
    UNION ALL
    SELECT 'growing_need', 'realised_share_' || period, round(share, 4)::VARCHAR,
        'feedback texts matching 培训|教程|training|tutorial / feedback rows with text, in the '
        || replace(period, '_', ' ')
    FROM need
    WHERE period IS NOT NULL
    UNION ALL
    SELECT 'delivery_delay_nps', CASE WHEN late THEN 'realised_mean_nps_late'
            ELSE 'realised_mean_nps_on_time' END, round(mean_nps, 2)::VARCHAR,
        'mean NPS of surveys tied to an order delivered '
        || CASE WHEN late THEN 'after' ELSE 'on or before' END || ' its promised date'
    FROM nps
    WHERE late IS NOT NULL
    UNION ALL
    SELECT signal, 'customers_listed', n::VARCHAR,
        'customers listed in demo_planted_customers for this signal'
    FROM listed
)
SELECT signal, key, value, description FROM realised
ORDER BY signal, key;
