-- Products: the fixed catalogue of 40 products passed in as parallel lists.
INSERT INTO products BY NAME
SELECT
    sk AS product_sk,
    'P' || lpad(sk::VARCHAR, 4, '0') AS product_id,
    name,
    category,
    ($as_of - launch_days)::DATE AS launch_date,
    price::DECIMAL(18, 2) AS list_price
FROM (
    SELECT
        unnest(range(1, len($product_names) + 1)) AS sk,
        unnest($product_names) AS name,
        unnest($product_categories) AS category,
        unnest($product_launch_days) AS launch_days,
        unnest($product_prices) AS price
)
ORDER BY sk;
