-- Interactions: routine contacts, post-purchase calls, birthday and holiday greetings.
-- src: 1 routine, 2 post-purchase, 3 birthday, 4 holiday; (ts, sk, src, k) is unique.
CREATE OR REPLACE TEMP TABLE _demo_i0 AS
WITH routine AS (
    SELECT
        sk, created_at,
        least(active_until + INTERVAL 180 DAY, $end_ts - INTERVAL 1 SECOND) AS window_end,
        -- contacts a year: more for B2B and for gold / diamond members
        (1.2 + CASE WHEN b2b THEN 1.5 ELSE 0 END)
            * CASE WHEN membership_tier IN ('gold', 'diamond') THEN 1.5 ELSE 1.0 END AS per_year
    FROM _demo_cf
),
routine_n AS (
    SELECT
        *,
        floor(per_year * date_diff('second', created_at, window_end) / 31557600
              + demo_u(sk, $seed, 401))::INTEGER AS m
    FROM routine
    WHERE window_end > created_at
),
routine_rows AS (
    SELECT sk, created_at, window_end, unnest(range(m)) AS k
    FROM routine_n
    WHERE m > 0
)
SELECT
    sk,
    1 AS src,
    k,
    greatest(created_at,
             demo_between(created_at, window_end, demo_u4(sk, k, $seed, 402))::DATE
             + demo_tod(demo_u4(sk, k, $seed, 403), 9, 20)) AS ts,
    demo_pick($ik_weighted, demo_u4(sk, k, $seed, 404)) AS kind,
    NULL::VARCHAR AS topic
FROM routine_rows
UNION ALL
-- post-purchase follow-up of 10 % of delivered orders
SELECT
    sk,
    2 AS src,
    order_no AS k,
    make_timestamp(1000000 * (delivered_s
        + 86400 * (2 + floor(9 * demo_u(order_no, $seed, 411))::BIGINT)
        + floor(4 * 3600 * demo_u(order_no, $seed, 412))::BIGINT)) AS ts,
    $ik_post_purchase AS kind,
    NULL AS topic
FROM _demo_ord
WHERE delivered_s IS NOT NULL
    AND status <> 4
    AND demo_u(order_no, $seed, 410) < 0.10
UNION ALL
-- birthday greetings to members above regular (and some others) every year
SELECT
    sk,
    3 AS src,
    y AS k,
    make_date(y, month(birthday), 1) + (day(birthday) - 1)::INTEGER
        + demo_tod(demo_u4(sk, y, $seed, 421), 9, 11) AS ts,
    $ik_birthday AS kind,
    NULL AS topic
FROM (
    SELECT sk, birthday, created_at, active_until, unnest(range($first_year, $last_year + 1)) AS y
    FROM _demo_cf
    WHERE birthday IS NOT NULL
        AND (membership_tier <> 'regular' OR demo_u(sk, $seed, 420) < 0.3)
)
WHERE make_date(y, month(birthday), 1) + (day(birthday) - 1)::INTEGER >= created_at::DATE + 1
    AND make_date(y, month(birthday), 1) + (day(birthday) - 1)::INTEGER < $end_ts::DATE
    AND make_date(y, month(birthday), 1) + (day(birthday) - 1)::INTEGER
        <= active_until + INTERVAL 365 DAY
UNION ALL
-- Spring Festival / Mid-Autumn greetings (the day before) to gold and diamond members and to
-- half of the B2B customers
SELECT
    sk,
    4 AS src,
    h AS k,
    list_element($holiday_dates, h) - 1 + demo_tod(demo_u4(sk, h, $seed, 431), 9, 12) AS ts,
    $ik_holiday AS kind,
    list_element($holiday_names, h) AS topic
FROM (
    SELECT sk, created_at, active_until, unnest(range(1, len($holiday_dates) + 1)) AS h
    FROM _demo_cf
    WHERE membership_tier IN ('gold', 'diamond') OR (b2b AND demo_u(sk, $seed, 430) < 0.5)
)
WHERE list_element($holiday_dates, h) - 1 >= created_at::DATE + 1
    AND list_element($holiday_dates, h) - 1 < $end_ts::DATE
    AND list_element($holiday_dates, h) <= active_until + INTERVAL 365 DAY;

INSERT INTO interactions BY NAME
WITH numbered AS (
    SELECT
        row_number() OVER (ORDER BY i.ts, i.sk, i.src, i.k) AS no,
        i.*
    FROM _demo_i0 i
    WHERE i.ts < $end_ts
)
SELECT
    'I' || lpad(n.no::VARCHAR, 9, '0') AS interaction_id,
    'C' || lpad(n.sk::VARCHAR, 7, '0') AS customer_id,
    n.sk AS customer_sk,
    n.ts,
    demo_pick(list_element($ik_channels, n.kind), demo_u(n.no, $seed, 440)) AS channel,
    list_element($ik_direction, n.kind) AS direction,
    coalesce(n.topic, list_element($ik_topic, n.kind)) AS topic,
    list_element($ik_care, n.kind) AS care_event,
    -- the customer's owner makes the calls; inbound contacts reach the service desk
    CASE WHEN list_element($ik_direction, n.kind) = 'outbound' THEN c.owner
        ELSE demo_pick($agents, demo_u(n.no, $seed, 441))
    END AS owner
FROM numbered n
JOIN customers c ON c.customer_sk = n.sk
ORDER BY n.no;

DROP TABLE _demo_i0;
