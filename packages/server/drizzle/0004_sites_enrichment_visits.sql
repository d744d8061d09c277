CREATE TABLE "site_daily_rollups" (
	"site_id" text NOT NULL,
	"date" date NOT NULL,
	"dimension" text NOT NULL,
	"value" text NOT NULL,
	"events" bigint DEFAULT 0 NOT NULL,
	"pageviews" bigint DEFAULT 0 NOT NULL,
	"visits" bigint DEFAULT 0 NOT NULL,
	"bounces" bigint DEFAULT 0 NOT NULL,
	"duration_s" bigint DEFAULT 0 NOT NULL,
	"visitors_sum" bigint,
	"visitors_sketch" "bytea",
	CONSTRAINT "site_daily_rollups_site_id_date_dimension_value_pk" PRIMARY KEY("site_id","date","dimension","value")
);
--> statement-breakpoint
CREATE TABLE "sites" (
	"site_id" text PRIMARY KEY NOT NULL,
	"time_zone" text DEFAULT 'UTC' NOT NULL,
	"public" boolean DEFAULT false NOT NULL,
	"allowed_hostnames" text[],
	"share_secret" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"rollups_time_zone" text DEFAULT 'UTC' NOT NULL
);
--> statement-breakpoint
CREATE TABLE "visits" (
	"site_id" text NOT NULL,
	"visitor_id" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone NOT NULL,
	"date" date NOT NULL,
	"events" integer NOT NULL,
	"pageviews" integer NOT NULL,
	"entry_page" text NOT NULL,
	"exit_page" text,
	"first_event_id" uuid NOT NULL,
	"exit_at" timestamp with time zone,
	"exit_event_id" uuid,
	"source" text,
	"channel" text,
	"referrer_domain" text,
	"utm_source" text,
	"utm_medium" text,
	"utm_campaign" text,
	"utm_term" text,
	"utm_content" text,
	"device" text,
	"browser" text,
	"os" text,
	"country" text,
	"region" text,
	"city" text,
	"language" text,
	CONSTRAINT "visits_site_id_visitor_id_started_at_pk" PRIMARY KEY("site_id","visitor_id","started_at")
);
--> statement-breakpoint
ALTER TABLE "raw_events" ADD COLUMN "utm_source" text;--> statement-breakpoint
ALTER TABLE "raw_events" ADD COLUMN "utm_medium" text;--> statement-breakpoint
ALTER TABLE "raw_events" ADD COLUMN "utm_campaign" text;--> statement-breakpoint
ALTER TABLE "raw_events" ADD COLUMN "utm_term" text;--> statement-breakpoint
ALTER TABLE "raw_events" ADD COLUMN "utm_content" text;--> statement-breakpoint
ALTER TABLE "raw_events" ADD COLUMN "language" text;--> statement-breakpoint
ALTER TABLE "raw_events" ADD COLUMN "screen_width" integer;--> statement-breakpoint
ALTER TABLE "raw_events" ADD COLUMN "source" text;--> statement-breakpoint
ALTER TABLE "raw_events" ADD COLUMN "channel" text;--> statement-breakpoint
ALTER TABLE "raw_events" ADD COLUMN "referrer_domain" text;--> statement-breakpoint
ALTER TABLE "raw_events" ADD COLUMN "device" text;--> statement-breakpoint
ALTER TABLE "raw_events" ADD COLUMN "browser" text;--> statement-breakpoint
ALTER TABLE "raw_events" ADD COLUMN "browser_version" text;--> statement-breakpoint
ALTER TABLE "raw_events" ADD COLUMN "os" text;--> statement-breakpoint
ALTER TABLE "raw_events" ADD COLUMN "os_version" text;--> statement-breakpoint
ALTER TABLE "raw_events" ADD COLUMN "country" text;--> statement-breakpoint
ALTER TABLE "raw_events" ADD COLUMN "region" text;--> statement-breakpoint
ALTER TABLE "raw_events" ADD COLUMN "city" text;--> statement-breakpoint
CREATE INDEX "idx_visits_site_date" ON "visits" USING btree ("site_id","date");--> statement-breakpoint
CREATE INDEX "idx_raw_events_site_visitor_ts" ON "raw_events" USING btree ("site_id","visitor_id","event_ts");--> statement-breakpoint
-- Rollup counters and visits change on every fold: room on each page keeps updates HOT.
ALTER TABLE "site_daily_rollups" SET (fillfactor = 70);--> statement-breakpoint
ALTER TABLE "visits" SET (fillfactor = 70);--> statement-breakpoint
-- Sites that had events before this migration get their row (UTC, private), as their next event would make it.
INSERT INTO "sites" ("site_id") SELECT DISTINCT "site_id" FROM "site_daily_aggregates" ON CONFLICT DO NOTHING;
