-- Points ledger: loyalty members earn on completed orders a week after delivery (1 point per
-- yuan, more for higher tiers); part of the points is redeemed later, some expire after two
-- years, a few orders earn a bonus. Each entry is tied to its order, so the balance of every
-- customer stays >= 0. entry_id = 'PT' + order number + kind digit (1 earn, 2 redeem,
-- 3 expire, 4 adjust).
CREATE OR REPLACE TEMP TABLE _demo_pt AS
SELECT
    o.order_no,
    o.sk,
    o.delivered_s + 7 * 86400 AS earned_s,
    floor(o.amount_c / 100 * CASE c.membership_tier
        WHEN 'diamond' THEN 2.0 WHEN 'gold' THEN 1.5 WHEN 'silver' THEN 1.2 ELSE 1.0 END
    )::BIGINT AS points,
    demo_u(o.order_no, $seed, 701) AS u_use
FROM _demo_ord o
JOIN _demo_cf c ON c.sk = o.sk
WHERE o.status = 1
    AND o.delivered_s + 7 * 86400 < $end_s
    AND c.member
    AND o.amount_c >= 100;

INSERT INTO points_ledger BY NAME
SELECT
    'PT' || lpad(order_no::VARCHAR, 9, '0') || kind::VARCHAR AS entry_id,
    'C' || lpad(sk::VARCHAR, 7, '0') AS customer_id,
    sk AS customer_sk,
    make_timestamp(1000000 * ts_s) AS ts,
    list_element(['earn', 'redeem', 'expire', 'adjust'], kind) AS kind,
    points,
    'O' || lpad(order_no::VARCHAR, 9, '0') AS order_id
FROM (
    SELECT order_no, sk, 1 AS kind, earned_s AS ts_s, points FROM _demo_pt
    UNION ALL
    -- redeemed: 30 % to 100 % of the points, 2 weeks to 7 months later
    SELECT order_no, sk, 2,
        earned_s + floor(86400 * (14 + 200 * demo_u(order_no, $seed, 702)))::BIGINT,
        greatest(1, floor(points * (0.3 + 0.7 * demo_u(order_no, $seed, 703))))::BIGINT
    FROM _demo_pt
    WHERE u_use < 0.2
    UNION ALL
    -- never used: expire two years after they were earned
    SELECT order_no, sk, 3, earned_s + 730 * 86400, points
    FROM _demo_pt
    WHERE u_use >= 0.2 AND u_use < 0.45
    UNION ALL
    -- promotion bonus
    SELECT order_no, sk, 4, earned_s + 3600,
        (50 * (1 + floor(10 * demo_u(order_no, $seed, 704))))::BIGINT
    FROM _demo_pt
    WHERE demo_u(order_no, $seed, 705) < 0.02
)
WHERE ts_s < $end_s;

DROP TABLE _demo_pt;
