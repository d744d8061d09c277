-- Index keys compare byte by byte (src/db/schema/key-text.ts). One statement per table, so each of its
-- indexes is rebuilt once; the tables themselves are not rewritten.
ALTER TABLE "raw_events" ALTER COLUMN "site_id" SET DATA TYPE text COLLATE "C", ALTER COLUMN "event_type" SET DATA TYPE text COLLATE "C", ALTER COLUMN "path" SET DATA TYPE text COLLATE "C", ALTER COLUMN "visitor_id" SET DATA TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "site_daily_aggregates" ALTER COLUMN "site_id" SET DATA TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "site_daily_event_counts" ALTER COLUMN "site_id" SET DATA TYPE text COLLATE "C", ALTER COLUMN "event_type" SET DATA TYPE text COLLATE "C", ALTER COLUMN "path" SET DATA TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "site_daily_event_visitors" ALTER COLUMN "site_id" SET DATA TYPE text COLLATE "C", ALTER COLUMN "event_type" SET DATA TYPE text COLLATE "C", ALTER COLUMN "visitor_id" SET DATA TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "site_daily_path_counts" ALTER COLUMN "site_id" SET DATA TYPE text COLLATE "C", ALTER COLUMN "path" SET DATA TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "site_daily_rollups" ALTER COLUMN "site_id" SET DATA TYPE text COLLATE "C", ALTER COLUMN "dimension" SET DATA TYPE text COLLATE "C", ALTER COLUMN "value" SET DATA TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "site_daily_unique_users" ALTER COLUMN "site_id" SET DATA TYPE text COLLATE "C", ALTER COLUMN "visitor_id" SET DATA TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "site_day_seals" ALTER COLUMN "site_id" SET DATA TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "site_monthly_rollups" ALTER COLUMN "site_id" SET DATA TYPE text COLLATE "C", ALTER COLUMN "dimension" SET DATA TYPE text COLLATE "C", ALTER COLUMN "value" SET DATA TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "site_weekly_rollups" ALTER COLUMN "site_id" SET DATA TYPE text COLLATE "C", ALTER COLUMN "dimension" SET DATA TYPE text COLLATE "C", ALTER COLUMN "value" SET DATA TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "site_daily_pair_rollups" ALTER COLUMN "site_id" SET DATA TYPE text COLLATE "C", ALTER COLUMN "filter_dimension" SET DATA TYPE text COLLATE "C", ALTER COLUMN "filter_value" SET DATA TYPE text COLLATE "C", ALTER COLUMN "dimension" SET DATA TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "site_monthly_pair_rollups" ALTER COLUMN "site_id" SET DATA TYPE text COLLATE "C", ALTER COLUMN "filter_dimension" SET DATA TYPE text COLLATE "C", ALTER COLUMN "filter_value" SET DATA TYPE text COLLATE "C", ALTER COLUMN "dimension" SET DATA TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "sites" ALTER COLUMN "site_id" SET DATA TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "visits" ALTER COLUMN "site_id" SET DATA TYPE text COLLATE "C", ALTER COLUMN "visitor_id" SET DATA TYPE text COLLATE "C";
