CREATE TABLE "site_monthly_rollups" (
	"site_id" text NOT NULL,
	"month" date NOT NULL,
	"dimension" text NOT NULL,
	"value" text NOT NULL,
	"events" bigint DEFAULT 0 NOT NULL,
	"pageviews" bigint DEFAULT 0 NOT NULL,
	"visits" bigint DEFAULT 0 NOT NULL,
	"bounces" bigint DEFAULT 0 NOT NULL,
	"duration_s" bigint DEFAULT 0 NOT NULL,
	"visitors_sketch" "bytea" NOT NULL,
	CONSTRAINT "site_monthly_rollups_site_id_dimension_month_value_pk" PRIMARY KEY("site_id","dimension","month","value")
);
--> statement-breakpoint
CREATE INDEX "idx_rollups_site_dimension_date" ON "site_daily_rollups" USING btree ("site_id","dimension","date");