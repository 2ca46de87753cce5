-- Feedback: post-purchase surveys and complaints tied to orders; relationship surveys,
-- suggestions and questionnaires tied to customers.
-- src: 1 order survey, 2 order complaint, 3 relationship survey, 4 suggestion,
--      5 questionnaire; (ts, sk, src, k) is unique.
CREATE OR REPLACE TEMP TABLE _demo_f0 AS
SELECT
    sk,
    1 AS src,
    order_no AS k,
    make_timestamp(1000000 * (delivered_s
        + floor(3600 * (6 + 150 * demo_u(order_no, $seed, 302)))::BIGINT)) AS ts,
    order_no,
    product_sk,
    late,
    status = 2 AS returned
FROM _demo_ord
WHERE delivered_s IS NOT NULL AND demo_u(order_no, $seed, 301) < $survey_share
UNION ALL
SELECT
    sk,
    2 AS src,
    order_no AS k,
    make_timestamp(1000000 * (delivered_s
        + floor(3600 * (1 + 71 * demo_u(order_no, $seed, 304)))::BIGINT)) AS ts,
    order_no,
    product_sk,
    late,
    status = 2 AS returned
FROM _demo_ord
WHERE delivered_s IS NOT NULL
    AND demo_u(order_no, $seed, 303) < CASE
        WHEN late THEN $complaint_late
        WHEN status = 2 THEN 0.25
        ELSE $complaint_on_time
    END
UNION ALL
SELECT
    sk,
    CASE
        WHEN demo_u4(sk, k, $seed, 312) < 0.4 THEN 3
        WHEN demo_u4(sk, k, $seed, 312) < 0.7 THEN 4
        ELSE 5
    END AS src,
    k,
    demo_between(created_at, window_end, demo_u4(sk, k, $seed, 313)) AS ts,
    NULL AS order_no,
    -- a third of the suggestions are about a product
    CASE WHEN demo_u4(sk, k, $seed, 314) < 0.33 THEN
        CASE WHEN b2b THEN demo_pick($legacy_b2b, demo_u4(sk, k, $seed, 315))
            ELSE demo_pick($legacy_b2c, demo_u4(sk, k, $seed, 315)) END
    END AS product_sk,
    FALSE AS late,
    FALSE AS returned
FROM (
    SELECT sk, b2b, created_at, window_end, unnest(range(m)) AS k
    FROM (
        SELECT
            sk, b2b, created_at,
            least(active_until + INTERVAL 90 DAY, $end_ts - INTERVAL 1 SECOND) AS window_end,
            floor(0.35 * date_diff('second', created_at,
                least(active_until + INTERVAL 90 DAY, $end_ts - INTERVAL 1 SECOND)) / 31557600
                + demo_u(sk, $seed, 311))::INTEGER AS m
        FROM _demo_cf
    )
    WHERE m > 0
);

CREATE OR REPLACE TEMP TABLE _demo_f AS
WITH numbered AS (
    SELECT
        row_number() OVER (ORDER BY f.ts, f.sk, f.src, f.k) AS no,
        f.*,
        c.satisfaction,
        c.lang_en,
        coalesce(f.product_sk = $hr_product, FALSE) AS hr_product
    FROM _demo_f0 f
    JOIN _demo_c c ON c.sk = f.sk
    WHERE f.ts < $end_ts
),
scored AS (
    SELECT
        *,
        CASE WHEN src IN (1, 3) THEN least(10, greatest(0, round(
            7.9 + 1.2 * satisfaction + 1.3 * demo_norm(no, $seed, 320)
            - CASE WHEN late THEN $nps_penalty_late ELSE 0 END
            - CASE WHEN returned THEN 2.5 ELSE 0 END)))::BIGINT
        END AS nps,
        CASE WHEN src IN (1, 3) OR (src = 5 AND demo_u(no, $seed, 321) < 0.5) THEN
            least(5, greatest(1, round(
                4.0 + 0.6 * satisfaction + 0.6 * demo_norm(no, $seed, 322)
                - CASE WHEN late THEN 1.6 ELSE 0 END
                - CASE WHEN returned THEN 1.2 ELSE 0 END)))::BIGINT
        END AS csat,
        -- CES reads as 费力度: 1 = very easy ... 7 = very hard
        CASE WHEN src IN (1, 3) AND demo_u(no, $seed, 323) < 0.7 THEN
            least(7, greatest(1, round(
                2.6 - 0.5 * satisfaction + 0.9 * demo_norm(no, $seed, 324)
                + CASE WHEN late THEN 2.2 ELSE 0 END
                + CASE WHEN returned THEN 1.0 ELSE 0 END)))::BIGINT
        END AS ces,
        CASE
            WHEN src = 1 THEN demo_u(no, $seed, 325) < 0.35
            WHEN src = 3 THEN demo_u(no, $seed, 325) < 0.30
            ELSE TRUE
        END AS has_text,
        -- planted growing_need: the chance of a training request grows exponentially from
        -- train_p0 (first year) to train_p1 (last quarter)
        CASE
            WHEN ts < $train_ramp_start THEN $train_p0
            WHEN ts >= $train_ramp_end THEN $train_p1
            ELSE $train_p0 * pow($train_p1 / $train_p0,
                date_diff('second', $train_ramp_start, ts)
                / date_diff('second', $train_ramp_start, $train_ramp_end))
        END AS p_training,
        demo_u(no, $seed, 326) AS u_topic
    FROM numbered
)
SELECT
    *,
    CASE
        WHEN NOT has_text THEN NULL
        -- complaints about late orders are about delivery; comments on late orders mostly
        WHEN src = 2 AND late THEN list_position($topics, 'delivery')
        WHEN src = 1 AND late AND u_topic < 0.8 THEN list_position($topics, 'delivery')
        WHEN src IN (1, 2) AND returned AND u_topic
            < CASE WHEN hr_product THEN 0.85 ELSE 0.5 END THEN list_position($topics, 'quality')
        WHEN demo_u(no, $seed, 327) < p_training THEN list_position($topics, 'training')
        WHEN src IN (1, 3) AND nps >= 9 AND u_topic < 0.7 THEN list_position($topics, 'praise')
        WHEN src IN (1, 3) THEN demo_pick($topics_survey, u_topic)
        WHEN src = 2 THEN demo_pick($topics_complaint, u_topic)
        WHEN src = 4 THEN demo_pick($topics_suggestion, u_topic)
        ELSE demo_pick($topics_questionnaire, u_topic)
    END AS topic
FROM scored;

DROP TABLE _demo_f0;

INSERT INTO feedback BY NAME
SELECT
    'F' || lpad(no::VARCHAR, 8, '0') AS feedback_id,
    'C' || lpad(sk::VARCHAR, 7, '0') AS customer_id,
    sk AS customer_sk,
    ts,
    CASE src
        WHEN 1 THEN 'survey' WHEN 2 THEN 'complaint' WHEN 3 THEN 'survey'
        WHEN 4 THEN 'suggestion' ELSE 'questionnaire'
    END AS source,
    nps,
    csat,
    ces,
    CASE WHEN topic IS NOT NULL THEN
        CASE WHEN lang_en
            THEN replace(demo_pick(list_element($txt_en, topic), demo_u(no, $seed, 330)), '{p}',
                         coalesce(list_element($product_names_en, product_sk), 'product'))
            ELSE replace(demo_pick(list_element($txt_zh, topic), demo_u(no, $seed, 330)), '{p}',
                         coalesce(list_element($product_names, product_sk), '产品'))
        END
    END AS text,
    CASE WHEN lang_en THEN 'en' ELSE 'zh' END AS language,
    CASE WHEN order_no IS NOT NULL THEN 'O' || lpad(order_no::VARCHAR, 9, '0') END AS order_id,
    CASE WHEN product_sk IS NOT NULL THEN 'P' || lpad(product_sk::VARCHAR, 4, '0') END
        AS product_id,
    product_sk
FROM _demo_f
ORDER BY no;
