-- Order draft: every order of every customer, as numbers only (ids and texts come later).
--
-- Customer sk places k orders (20_customers_base.sql): the first at first_order_at, order j in
-- its own slice of the active span, at an hour of day drawn from the shopping-hour weights.
-- Times are epoch seconds (*_s) and days (*_day), money is in cents (*_c), status and channel
-- are list positions in $order_statuses / $order_channel_names: integer arithmetic keeps ten
-- million orders fast.
CREATE OR REPLACE TEMP TABLE _demo_o AS
WITH expanded AS (
    SELECT sk, b2b, lang_en, k, first_s, span_s, unnest(range(k)) AS j
    FROM _demo_c
    WHERE k > 0
),
timed AS (
    SELECT
        sk, j, b2b, lang_en,
        CASE WHEN j = 0 THEN first_s ELSE greatest(
            first_s,
            (first_s + floor(span_s * (j + demo_u4(sk, j, $seed, 201)) / k)::BIGINT)
                // 86400 * 86400
            + 3600 * demo_pick($order_hours, demo_u4(sk, j, $seed, 202))
            + floor(3600 * demo_u4(sk, j, $seed, 203))::BIGINT
        ) END AS ts_s,
        CASE WHEN b2b
            THEN demo_pick($pop_b2b, demo_u4(sk, j, $seed, 204))
            ELSE demo_pick($pop_b2c, demo_u4(sk, j, $seed, 204))
        END AS wanted,
        demo_u4(sk, j, $seed, 206) AS u_quantity,
        demo_pick($order_channels, demo_u4(sk, j, $seed, 211)) AS channel
    FROM expanded
),
product AS (
    SELECT
        sk, j, b2b, lang_en, ts_s, channel,
        ts_s // 86400 AS ts_day,
        -- a product not launched yet on the order day: an older product instead
        CASE
            WHEN list_element($product_launch_day, wanted) <= ts_s // 86400 THEN wanted
            WHEN b2b THEN demo_pick($legacy_b2b, demo_u4(sk, j, $seed, 205))
            ELSE demo_pick($legacy_b2c, demo_u4(sk, j, $seed, 205))
        END AS product_sk,
        CASE
            WHEN b2b THEN 1 + floor(10 * pow(u_quantity, 2.5))
            WHEN u_quantity < 0.82 THEN 1
            WHEN u_quantity < 0.94 THEN 2
            WHEN u_quantity < 0.98 THEN 3
            ELSE 4 + floor(3 * demo_u4(sk, j, $seed, 207))
        END::BIGINT AS quantity
    FROM timed
),
priced AS (
    SELECT
        *,
        list_element($product_price_c, product_sk) * quantity AS gross_c,
        CASE WHEN product_sk = $hr_product THEN $hr_return_rate ELSE $return_rate END
            AS return_rate,
        demo_u4(sk, j, $seed, 210) AS u_status,
        channel <> $store_channel AS shipped
    FROM product
),
statused AS (
    SELECT
        *,
        CASE WHEN demo_u4(sk, j, $seed, 208) < 0.35
            THEN round(gross_c * (0.05 + 0.20 * demo_u4(sk, j, $seed, 209)))::BIGINT
            ELSE 0
        END AS discount_c,
        -- 1 completed, 2 returned, 3 refunded, 4 cancelled
        CASE
            WHEN u_status < 0.03 THEN 4
            WHEN u_status < 0.03 + return_rate THEN 2
            WHEN u_status < 0.045 + return_rate THEN 3
            ELSE 1
        END AS status0,
        CASE WHEN shipped
            THEN ts_day + 2 + floor(4 * demo_u4(sk, j, $seed, 212))::BIGINT
            ELSE ts_day
        END AS promised_day,
        shipped AND demo_u4(sk, j, $seed, 213) < $late_share_shipped AS goes_late,
        floor(3600 * (9 + 12 * demo_u4(sk, j, $seed, 216)))::BIGINT AS delivery_tod
    FROM priced
),
delivered AS (
    SELECT
        *,
        CASE
            WHEN status0 = 4 THEN NULL
            -- half of the refunds happen before shipping
            WHEN status0 = 3 AND demo_u4(sk, j, $seed, 214) < 0.5 THEN NULL
            -- picked up at the counter
            WHEN NOT shipped THEN ts_s
            WHEN goes_late THEN 86400 * (promised_day + 1
                + floor(6 * pow(demo_u4(sk, j, $seed, 215), 1.5))::BIGINT) + delivery_tod
            ELSE 86400 * greatest(ts_day + 1,
                promised_day - floor(2 * demo_u4(sk, j, $seed, 215))::BIGINT) + delivery_tod
        END AS delivered_raw
    FROM statused
),
final AS (
    SELECT
        *,
        -- not delivered by the end of as_of: still on its way
        CASE WHEN delivered_raw < $end_s THEN delivered_raw END AS delivered_s
    FROM delivered
)
SELECT
    sk,
    j,
    lang_en,
    ts_s,
    product_sk,
    quantity,
    discount_c,
    gross_c - discount_c AS amount_c,
    -- an order still on its way cannot have been returned yet
    CASE WHEN status0 = 2 AND delivered_s IS NULL THEN 1 ELSE status0 END AS status,
    channel,
    promised_day,
    delivered_s,
    coalesce(delivered_s // 86400 > promised_day, FALSE) AS late,
    CASE
        WHEN status0 = 2 AND delivered_s IS NOT NULL THEN CASE
            WHEN demo_u4(sk, j, $seed, 217)
                < CASE WHEN product_sk = $hr_product THEN $hr_quality_share ELSE 0.25 END THEN 1
            WHEN delivered_s // 86400 > promised_day
                AND demo_u4(sk, j, $seed, 218) < 0.5 THEN 2
            ELSE 3
        END
        WHEN status0 = 3 THEN 4
    END AS reason_kind,
    demo_u4(sk, j, $seed, 219) AS u_reason
FROM final;
