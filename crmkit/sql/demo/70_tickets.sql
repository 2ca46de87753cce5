-- Tickets: most complaints become a ticket; customers also open service requests.
-- src: 1 from a complaint (k = feedback number), 2 service request; (opened_at, sk, src, k)
-- is unique.
CREATE OR REPLACE TEMP TABLE _demo_t0 AS
SELECT
    sk,
    1 AS src,
    no AS k,
    ts + to_seconds(floor(1200 * demo_u(no, $seed, 501))::BIGINT) AS opened_at,
    CASE WHEN returned AND topic = list_position($topics, 'quality')
        THEN $ticket_return_category
        ELSE list_element($topic_ticket_category, coalesce(topic, 1))
    END AS category,
    order_no
FROM _demo_f
WHERE src = 2 AND demo_u(no, $seed, 500) < 0.85
UNION ALL
SELECT
    sk,
    2 AS src,
    k,
    demo_between(created_at, window_end, demo_u4(sk, k, $seed, 511))::DATE
        + to_seconds((3600 * demo_pick($order_hours, demo_u4(sk, k, $seed, 512))
            + floor(3600 * demo_u4(sk, k, $seed, 513)))::BIGINT) AS opened_at,
    demo_pick($service_ticket_categories, demo_u4(sk, k, $seed, 514)) AS category,
    NULL AS order_no
FROM (
    SELECT sk, created_at, window_end, unnest(range(m)) AS k
    FROM (
        SELECT
            sk, created_at,
            least(active_until + INTERVAL 60 DAY, $end_ts - INTERVAL 1 SECOND) AS window_end,
            floor(0.1 * date_diff('second', created_at,
                least(active_until + INTERVAL 60 DAY, $end_ts - INTERVAL 1 SECOND)) / 31557600
                + demo_u(sk, $seed, 510))::INTEGER AS m
        FROM _demo_cf
        WHERE orders > 0
    )
    WHERE m > 0
);

INSERT INTO tickets BY NAME
WITH numbered AS (
    SELECT
        row_number() OVER (ORDER BY opened_at, sk, src, k) AS no,
        *
    FROM _demo_t0
    WHERE opened_at < $end_ts AND opened_at >= (SELECT min(created_at) FROM _demo_c)
),
attributes AS (
    SELECT
        *,
        demo_pick($ticket_channels, demo_u(no, $seed, 520)) AS channel,
        demo_pick($severities, demo_u(no, $seed, 521)) AS severity
    FROM numbered
),
responded AS (
    SELECT
        *,
        -- planted slow_sla_channel: first-response minutes are log-normal with a median of
        -- 135 minutes on the slow channel (55 % over 2 h) and 25 minutes elsewhere (6 %),
        -- 2 % of tickets are never answered
        CASE WHEN demo_u(no, $seed, 522) >= 0.02 THEN
            opened_at + to_seconds(floor(60 * least(10080.0, exp(
                ln(CASE WHEN channel = $slow_channel THEN 135.0 ELSE 25.0 END)
                + demo_norm(no, $seed, 523))))::BIGINT)
        END AS response_raw
    FROM attributes
),
answered AS (
    SELECT
        *,
        CASE WHEN response_raw < $end_ts THEN response_raw END AS first_response_at
    FROM responded
),
resolved AS (
    SELECT
        *,
        CASE WHEN first_response_at IS NOT NULL AND demo_u(no, $seed, 524) >= 0.04 THEN
            first_response_at + to_seconds(floor(3600 * least(2000.0, exp(
                ln(CASE severity WHEN 'critical' THEN 6.0 WHEN 'high' THEN 12.0 ELSE 20.0 END)
                + 1.1 * demo_norm(no, $seed, 525))))::BIGINT)
        END AS resolved_raw
    FROM answered
)
SELECT
    'T' || lpad(no::VARCHAR, 8, '0') AS ticket_id,
    'C' || lpad(sk::VARCHAR, 7, '0') AS customer_id,
    sk AS customer_sk,
    opened_at,
    first_response_at,
    CASE WHEN resolved_raw < $end_ts THEN resolved_raw END AS resolved_at,
    CASE
        WHEN NOT coalesce(resolved_raw < $end_ts, FALSE) THEN 0
        WHEN demo_u(no, $seed, 526) < 0.88 THEN 0
        WHEN demo_u(no, $seed, 526) < 0.97 THEN 1
        ELSE 2
    END::BIGINT AS reopen_count,
    channel,
    list_element($ticket_categories, category) AS category,
    severity,
    CASE WHEN channel = $slow_channel THEN $slow_team
        ELSE list_element($ticket_teams, category)
    END AS team,
    demo_pick($agents, demo_u(no, $seed, 527)) AS agent,
    demo_u(no, $seed, 528) < CASE severity
        WHEN 'critical' THEN 0.4 WHEN 'high' THEN 0.15 ELSE 0.03 END AS escalated,
    CASE WHEN order_no IS NOT NULL THEN 'O' || lpad(order_no::VARCHAR, 9, '0') END AS order_id
FROM resolved
ORDER BY no;

DROP TABLE _demo_t0;
