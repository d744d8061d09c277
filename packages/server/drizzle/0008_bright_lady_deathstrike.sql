CREATE TABLE "site_daily_pair_rollups" (
	"site_id" text NOT NULL,
	"filter_dimension" text NOT NULL,
	"filter_value" text NOT NULL,
	"dimension" text NOT NULL,
	"value" text NOT NULL,
	"events" bigint DEFAULT 0 NOT NULL,
	"pageviews" bigint DEFAULT 0 NOT NULL,
	"visitors_sketch" "bytea",
	"date" date NOT NULL,
	CONSTRAINT "site_daily_pair_rollups_pk" PRIMARY KEY("site_id","filter_dimension","dimension","filter_value","date","value")
);
--> statement-breakpoint
CREATE TABLE "site_monthly_pair_rollups" (
	"site_id" text NOT NULL,
	"filter_dimension" text NOT NULL,
	"filter_value" text NOT NULL,
	"dimension" text NOT NULL,
	"value" text NOT NULL,
	"events" bigint DEFAULT 0 NOT NULL,
	"pageviews" bigint DEFAULT 0 NOT NULL,
	"visitors_sketch" "bytea",
	"month" date NOT NULL,
	CONSTRAINT "site_monthly_pair_rollups_pk" PRIMARY KEY("site_id","filter_dimension","dimension","filter_value","month","value")
);
