-- Mark a merge as undone (crmkit.merge.undo_merge).
UPDATE customer_merges SET undone_at = $undone_at WHERE merge_id = $merge_id;
