-- Customers: profile + what their orders say (tier, owner team) + contact details.
CREATE OR REPLACE TEMP TABLE _demo_cf AS
WITH bought AS (
    SELECT
        sk,
        count(*) AS orders,
        make_timestamp(1000000 * max(ts_s)) AS last_order_at,
        sum(amount_c) FILTER (WHERE status = 1 AND ts_s >= $end_s - 730 * 86400) AS spend_2y
    FROM _demo_ord
    GROUP BY sk
),
spend_ranked AS (
    SELECT *, row_number() OVER (ORDER BY spend_2y DESC NULLS LAST, sk) AS spend_rank
    FROM bought
),
ranked AS (
    SELECT
        c.*,
        coalesce(b.orders, 0) AS orders,
        b.last_order_at,
        coalesce(b.spend_2y, 0) AS spend_2y,
        b.spend_rank,
        make_timestamp(1000000 * q.stop_s) AS quiet_from
    FROM _demo_c c
    LEFT JOIN spend_ranked b ON b.sk = c.sk
    LEFT JOIN _demo_quiet q ON q.sk = c.sk
),
tiered AS (
    SELECT
        *,
        -- membership tier from the last two years' completed spend
        CASE
            WHEN spend_2y = 0 OR spend_rank IS NULL THEN 'regular'
            WHEN spend_rank <= 0.03 * $n THEN 'diamond'
            WHEN spend_rank <= 0.12 * $n THEN 'gold'
            WHEN spend_rank <= 0.35 * $n THEN 'silver'
            ELSE 'regular'
        END AS membership_tier,
        -- the end of the customer's own activity (buying, writing, calling)
        least(end_active, coalesce(quiet_from, end_active)) AS active_until
    FROM ranked
),
teamed AS (
    SELECT
        *,
        -- who looks after whom (DOMAIN.md): potential → sales / marketing, churned → marketing,
        -- important → customer success, other existing customers → service (some sales)
        CASE
            WHEN orders = 0 THEN
                CASE WHEN demo_u(sk, $seed, 230) < 0.75 THEN 'sales' ELSE 'marketing' END
            WHEN last_order_at < $end_ts - INTERVAL 365 DAY THEN 'marketing'
            WHEN membership_tier IN ('diamond', 'gold') THEN 'success'
            WHEN demo_u(sk, $seed, 230) < 0.25 THEN 'sales'
            ELSE 'service'
        END AS owner_team,
        -- loyalty members earn points; everyone with a tier above regular is one
        membership_tier <> 'regular' OR demo_u(sk, $seed, 232) < 0.55 AS member
    FROM tiered
)
SELECT
    *,
    demo_pick(list_element($staff, list_position($staff_teams, owner_team)),
              demo_u(sk, $seed, 231)) AS owner
FROM teamed
ORDER BY sk;

INSERT INTO customers BY NAME
WITH contact0 AS (
    SELECT
        *,
        CASE
            WHEN demo_u(sk, $seed, 140) < $missing_email_share THEN NULL
            WHEN is_en THEN pinyin
                || CASE WHEN demo_u(p, $seed, 141) < 0.5 THEN ''
                        ELSE (1 + floor(99 * demo_u(p, $seed, 142)))::INTEGER::VARCHAR END
                || '@' || demo_pick($email_domains_en, demo_u(p, $seed, 143))
            -- QQ mail: a unique 8-9 digit QQ number per person
            WHEN demo_u(p, $seed, 141) < 0.3 THEN
                (10000000 + (p * 48271 + (hash($seed, 144) % 890000000)::BIGINT) % 890000000)
                    ::VARCHAR || '@qq.com'
            WHEN demo_u(p, $seed, 141) < 0.65 THEN pinyin
                || (10 + floor(990 * demo_u(p, $seed, 142)))::INTEGER::VARCHAR
                || '@' || demo_pick($email_domains_zh, demo_u(p, $seed, 143))
            ELSE pinyin
                || coalesce(year(birthday)::VARCHAR,
                            (1 + floor(99 * demo_u(p, $seed, 142)))::INTEGER::VARCHAR)
                || '@' || demo_pick($email_domains_zh, demo_u(p, $seed, 143))
        END AS email0,
        CASE
            WHEN demo_u(sk, $seed, 240) < 0.15 THEN NULL
            -- stale: last checked more than a year ago
            WHEN demo_u(sk, $seed, 240) < 0.45 AND created_at < $end_ts - INTERVAL 366 DAY THEN
                demo_between(created_at, $end_ts - INTERVAL 366 DAY, demo_u(sk, $seed, 241))
            ELSE demo_between(greatest(created_at, $end_ts - INTERVAL 365 DAY), $end_ts,
                              demo_u(sk, $seed, 241))
        END AS last_verified_at,
        CASE WHEN b2b THEN
            CASE WHEN is_en
                THEN demo_pick($company_core1_en, demo_u(sk, $seed, 155))
                    || demo_pick($company_core2_en, demo_u(sk, $seed, 154)) || ' '
                    || demo_pick($company_industries_en, demo_u(sk, $seed, 156))
                    || coalesce(' (' || list_element($cities_en, region_ix) || ')', '')
                    || ' Co., Ltd.'
                ELSE coalesce(city, '') || demo_pick($company_core1_zh, demo_u(sk, $seed, 155))
                    || demo_pick($company_core2_zh, demo_u(sk, $seed, 154))
                    || demo_pick($company_industries_zh, demo_u(sk, $seed, 156))
                    || demo_pick($company_suffixes_zh, demo_u(sk, $seed, 157))
            END
        END AS company0,
        lower(replace(person_name, ' ', '')) AS name_key
    FROM _demo_cf
),
-- the same address for two different people: the later ones add their number
first_owner AS (
    SELECT email0, min(p) AS owner_p FROM contact0 WHERE email0 IS NOT NULL GROUP BY email0
),
-- two different people with the same name at the same company would look like one person
-- entered twice (crmkit.quality's name + company rule): the later ones get no company
first_colleague AS (
    SELECT name_key, company0, min(p) AS owner_p
    FROM contact0
    WHERE company0 IS NOT NULL
    GROUP BY name_key, company0
),
contact AS (
    SELECT
        c.*,
        CASE WHEN f.owner_p <> c.p THEN replace(c.email0, '@', '.' || c.sk::VARCHAR || '@')
            ELSE c.email0
        END AS email,
        CASE WHEN g.owner_p = c.p THEN c.company0 END AS company
    FROM contact0 c
    LEFT JOIN first_owner f ON f.email0 = c.email0
    LEFT JOIN first_colleague g ON g.name_key = c.name_key AND g.company0 = c.company0
)
SELECT
    sk AS customer_sk,
    'C' || lpad(sk::VARCHAR, 7, '0') AS customer_id,
    -- a re-registered person types the same name, maybe with stray spaces or other case
    CASE
        WHEN NOT is_dup OR demo_u(sk, $seed, 104) < 0.5 THEN person_name
        WHEN is_en AND demo_u(sk, $seed, 105) < 0.5 THEN lower(person_name)
        WHEN is_en THEN upper(person_name)
        WHEN demo_u(sk, $seed, 105) < 0.5 THEN person_name || ' '
        ELSE ' ' || person_name
    END AS name,
    CASE WHEN NOT no_phone THEN
        -- p -> (p * 73939133 + offset) mod 10^8 is one-to-one, so phone numbers are unique
        demo_pick($phone_prefixes, demo_u(p, $seed, 120))
        || lpad(((p * 73939133 + (hash($seed, 121) % 100000000)::BIGINT) % 100000000)::VARCHAR,
                8, '0')
    END AS phone,
    email,
    gender,
    birthday,
    province,
    city,
    company,
    CASE WHEN b2b AND demo_u(sk, $seed, 158) < 0.85 THEN
        CASE WHEN is_en
            THEN demo_pick($titles_en, demo_u(sk, $seed, 159))
            ELSE demo_pick($titles_zh, demo_u(sk, $seed, 159))
        END
    END AS title,
    acquisition_channel,
    created_at,
    membership_tier,
    owner_team,
    owner,
    greatest(coalesce(last_verified_at, created_at),
             demo_between(created_at, $end_ts, sqrt(demo_u(sk, $seed, 242)))) AS updated_at,
    last_verified_at
FROM contact
ORDER BY sk;
