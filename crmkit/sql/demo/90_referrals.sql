-- Referrals: every customer acquired through "referral" was referred by an earlier customer
-- (converted once they bought); customers also refer people who never register.
CREATE OR REPLACE TEMP TABLE _demo_r0 AS
SELECT
    r.sk AS referrer_sk,
    c.sk AS referred_sk,
    1 AS src,
    c.sk AS k,
    -- referred within two weeks before registering, after the referrer registered
    least(c.created_at, greatest(r.created_at,
        c.created_at - to_seconds(floor(86400 * 14 * demo_u(c.sk, $seed, 802))::BIGINT)))
        AS ts,
    c.orders > 0 AS converted
FROM _demo_cf c
JOIN _demo_cf r
    ON r.sk = 1 + floor(demo_u(c.sk, $seed, 801) * 0.9 * (c.sk - 1))::BIGINT
WHERE c.acquisition_channel = 'referral' AND c.sk > 1
UNION ALL
SELECT
    sk AS referrer_sk,
    NULL AS referred_sk,
    2 AS src,
    k,
    demo_between(created_at, active_until, demo_u4(sk, k, $seed, 812)) AS ts,
    FALSE AS converted
FROM (
    SELECT sk, created_at, active_until, unnest(range(m)) AS k
    FROM (
        SELECT
            sk, created_at, active_until,
            floor(0.08 * date_diff('second', created_at, active_until) / 31557600
                  * CASE WHEN membership_tier IN ('gold', 'diamond') THEN 2 ELSE 1 END
                  + demo_u(sk, $seed, 811))::INTEGER AS m
        FROM _demo_cf
        WHERE orders > 0 AND active_until > created_at
    )
    WHERE m > 0
);

INSERT INTO referrals BY NAME
WITH numbered AS (
    SELECT
        row_number() OVER (ORDER BY ts, referrer_sk, src, k) AS no,
        *
    FROM _demo_r0
)
SELECT
    'R' || lpad(no::VARCHAR, 7, '0') AS referral_id,
    'C' || lpad(referrer_sk::VARCHAR, 7, '0') AS referrer_id,
    CASE WHEN referred_sk IS NOT NULL THEN 'C' || lpad(referred_sk::VARCHAR, 7, '0') END
        AS referred_id,
    ts,
    demo_pick($referral_channels, demo_u(no, $seed, 820)) AS channel,
    converted,
    referrer_sk,
    referred_sk
FROM numbered
ORDER BY no;

DROP TABLE _demo_r0;
