-- Remove the merged-away customers (crmkit.merge.apply_merges); $ids: their customer_id list.
DELETE FROM customers WHERE customer_id IN (SELECT unnest($ids));
