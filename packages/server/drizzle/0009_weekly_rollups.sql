CREATE TABLE "site_weekly_rollups" (
	"site_id" text NOT NULL,
	"dimension" text NOT NULL,
	"value" text NOT NULL,
	"events" bigint DEFAULT 0 NOT NULL,
	"pageviews" bigint DEFAULT 0 NOT NULL,
	"visits" bigint DEFAULT 0 NOT NULL,
	"bounces" bigint DEFAULT 0 NOT NULL,
	"duration_s" bigint DEFAULT 0 NOT NULL,
	"visitors_sketch" "bytea" NOT NULL,
	"visitors_estimate" bigint,
	"week" date NOT NULL,
	CONSTRAINT "site_weekly_rollups_site_id_dimension_week_value_pk" PRIMARY KEY("site_id","dimension","week","value")
);
