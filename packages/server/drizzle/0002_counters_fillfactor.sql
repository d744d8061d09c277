DROP INDEX "idx_path_counts_site_date_views_desc";--> statement-breakpoint
-- Counter rows are updated by every fold: leave room on each page so updates stay HOT (no index writes).
ALTER TABLE "site_daily_aggregates" SET (fillfactor = 70);--> statement-breakpoint
ALTER TABLE "site_daily_path_counts" SET (fillfactor = 70);--> statement-breakpoint
ALTER TABLE "site_daily_event_counts" SET (fillfactor = 70);
