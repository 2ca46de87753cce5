-- Customer profiles: who each customer is and how they will behave (latent, not stored).
--
-- Index i = customer_sk. Customer ids ascend with created_at (customers are numbered in the
-- order they registered). Person attributes (name, phone, gender, birthday, region) derive
-- from the person index p: a planted duplicate record (a person who registered a second
-- time) has p = the index of their first record, so it repeats that person's name and phone
-- without a join.
CREATE OR REPLACE TEMP TABLE _demo_c0 AS
WITH idx AS (
    SELECT
        range + 1 AS i,
        range + 1 > 50 AND demo_u(range + 1, $seed, 101) < $dup_share AS dup_candidate,
        range - floor(demo_u(range + 1, $seed, 102) * least(range, 3000))::BIGINT AS j
    FROM range($n)
),
dup AS (
    SELECT
        i,
        -- the first record must itself be an original with a phone number
        dup_candidate
            AND NOT (j > 50 AND demo_u(j, $seed, 101) < $dup_share)
            AND demo_u(j, $seed, 103) >= $missing_phone_share AS is_dup,
        j
    FROM idx
),
person AS (
    SELECT
        i,
        is_dup,
        CASE WHEN is_dup THEN j ELSE i END AS p
    FROM dup
),
traits AS (
    SELECT
        i, p, is_dup,
        demo_u(p, $seed, 110) < $english_share AS is_en,
        CASE
            WHEN demo_u(p, $seed, 111) < 0.48 THEN 'M'
            WHEN demo_u(p, $seed, 111) < 0.96 THEN 'F'
            ELSE 'U'
        END AS gender,
        1 + floor(demo_u(p, $seed, 112) * len($surnames))::BIGINT AS s_ix,
        demo_u(p, $seed, 113) < 0.68 AS two_chars,
        demo_u(p, $seed, 114) AS u_given_list,
        demo_u(p, $seed, 116) AS u_g1,
        demo_u(p, $seed, 117) AS u_g2,
        demo_u(p, $seed, 103) < $missing_phone_share AS no_phone,
        demo_u(p, $seed, 115) AS u_lang
    FROM person
),
names AS (
    SELECT
        *,
        gender = 'M' OR (gender = 'U' AND u_given_list < 0.5) AS male_list
    FROM traits
),
named AS (
    SELECT
        *,
        CASE WHEN male_list
            THEN 1 + floor(u_g1 * len($given_m))::BIGINT
            ELSE 1 + floor(u_g1 * len($given_f))::BIGINT END AS g1,
        CASE WHEN male_list
            THEN 1 + floor(u_g2 * len($given_m))::BIGINT
            ELSE 1 + floor(u_g2 * len($given_f))::BIGINT END AS g2,
        CASE WHEN male_list
            THEN demo_pick($en_first_m, u_g1)
            ELSE demo_pick($en_first_f, u_g1) END AS en_first,
        demo_pick($en_last, u_g2) AS en_last
    FROM names
),
base AS (
    SELECT
        i, p, is_dup, is_en, gender, no_phone,
        is_en OR u_lang < 0.06 AS lang_en,
        CASE
            WHEN is_en THEN en_first || ' ' || en_last
            WHEN male_list THEN list_element($surnames, s_ix) || list_element($given_m, g1)
                || CASE WHEN two_chars THEN list_element($given_m, g2) ELSE '' END
            ELSE list_element($surnames, s_ix) || list_element($given_f, g1)
                || CASE WHEN two_chars THEN list_element($given_f, g2) ELSE '' END
        END AS person_name,
        CASE
            WHEN is_en THEN lower(en_first) || '.' || lower(en_last)
            WHEN male_list THEN list_element($surnames_py, s_ix) || list_element($given_m_py, g1)
                || CASE WHEN two_chars THEN list_element($given_m_py, g2) ELSE '' END
            ELSE list_element($surnames_py, s_ix) || list_element($given_f_py, g1)
                || CASE WHEN two_chars THEN list_element($given_f_py, g2) ELSE '' END
        END AS pinyin,
        CASE WHEN demo_u(p, $seed, 131) >= 0.09 THEN
            $as_of - floor(365.25 * least(78.0, greatest(18.2,
                36 + 11 * demo_norm(p, $seed, 130))))::INTEGER
        END AS birthday,
        CASE WHEN demo_u(p, $seed, 133) >= 0.02 THEN
            demo_pick($region_weighted, demo_u(p, $seed, 132))
        END AS region_ix
    FROM named
),
profile AS (
    SELECT
        b.*,
        list_element($provinces, region_ix) AS province,
        list_element($cities, region_ix) AS city,
        -- registration: the density grows over the four years; ids ascend with the day
        $start_ts
            + to_days(least($span_days - 1, greatest(0,
                floor($span_days * pow(i / $n, 0.75) + 2 * (demo_u(i, $seed, 150) - 0.5))
              ))::INTEGER)
            + demo_tod(demo_u(i, $seed, 151), 8, 22) AS created_at,
        demo_pick($acquisition_weighted, demo_u(i, $seed, 152)) AS acquisition_channel,
        demo_u(i, $seed, 153) < $b2b_share AS b2b,
        demo_u(i, $seed, 160) < $potential_share AS potential,
        demo_norm(i, $seed, 161) AS satisfaction,
        -- orders per year: log-normal around 2.2; B2B buy more often, duplicates rarely
        exp(ln(2.2) + 0.85 * demo_norm(i, $seed, 162))
            * CASE WHEN demo_u(i, $seed, 153) < $b2b_share THEN 1.6 ELSE 1.0 END
            * CASE WHEN is_dup THEN 0.3 ELSE 1.0 END AS rate
    FROM base b
),
activity AS (
    SELECT
        *,
        created_at + to_seconds(floor(600 - ln(1 - demo_u(i, $seed, 163)) * 6 * 86400)::BIGINT)
            AS first_order_at,
        -- natural churn: about 20 % a year, less for frequent and for satisfied buyers
        0.2 * least(2.5, greatest(0.4, pow(rate / 2.2, -0.35))) * exp(-0.25 * satisfaction)
            AS hazard
    FROM profile
),
lifetime AS (
    SELECT
        *,
        first_order_at + to_seconds(floor(86400 * 365.25 * least(60.0,
            -ln(1 - demo_u(i, $seed, 164)) / hazard))::BIGINT) AS natural_end,
        -- planted churn_region: extra churn in each of the last four quarters
        CASE WHEN coalesce(province = $churn_province, FALSE) AND NOT potential THEN
            CASE
                WHEN first_order_at < $q1 AND demo_u(i, $seed, 171) < list_element($churn_extra, 1)
                    THEN demo_between($q1, $q2, demo_u(i, $seed, 175))
                WHEN first_order_at < $q2 AND demo_u(i, $seed, 172) < list_element($churn_extra, 2)
                    THEN demo_between($q2, $q3, demo_u(i, $seed, 175))
                WHEN first_order_at < $q3 AND demo_u(i, $seed, 173) < list_element($churn_extra, 3)
                    THEN demo_between($q3, $q4, demo_u(i, $seed, 175))
                WHEN first_order_at < $q4 AND demo_u(i, $seed, 174) < list_element($churn_extra, 4)
                    THEN demo_between($q4, $end_ts, demo_u(i, $seed, 175))
            END
        END AS region_end
    FROM activity
),
span AS (
    SELECT
        *,
        least(natural_end, coalesce(region_end, natural_end), $end_ts - INTERVAL 1 SECOND)
            AS end_active
    FROM lifetime
),
weights AS (
    SELECT
        *,
        date_diff('second', first_order_at, end_active) AS span_s,
        -- expected orders, in thousandths so that the normalising sum is exact
        CASE WHEN NOT potential AND first_order_at < end_active THEN
            round(1000 * (1 + rate * date_diff('second', first_order_at, end_active) / 31557600))
        ELSE 0 END::BIGINT AS w_milli
    FROM span
)
SELECT
    i AS sk,
    p,
    is_dup,
    is_en,
    lang_en,
    gender,
    no_phone,
    person_name,
    pinyin,
    birthday,
    region_ix,
    province,
    city,
    created_at,
    acquisition_channel,
    b2b,
    potential,
    satisfaction,
    rate,
    first_order_at,
    natural_end,
    region_end,
    region_end IS NOT NULL AND region_end < natural_end AS region_churned,
    coalesce(province = $churn_province, FALSE) AS in_churn_region,
    end_active,
    span_s,
    -- the same instants in epoch seconds, for cheap integer arithmetic on orders
    epoch_ms(first_order_at) // 1000 AS first_s,
    w_milli
FROM weights;

-- orders per customer: stochastic rounding of the expected count, scaled to the requested
-- total (the sum is an exact integer, so k does not depend on the thread count)
CREATE OR REPLACE TEMP TABLE _demo_c AS
SELECT
    c.*,
    floor(c.w_milli::DOUBLE * $target_orders / t.total::DOUBLE + demo_u(c.sk, $seed, 180))
        ::INTEGER AS k
FROM _demo_c0 c
CROSS JOIN (SELECT sum(w_milli) AS total FROM _demo_c0) t
ORDER BY c.sk;

DROP TABLE _demo_c0;
