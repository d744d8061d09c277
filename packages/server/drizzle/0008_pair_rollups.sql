CREATE TABLE "site_daily_pair_rollups" (
	"site_id" text NOT NULL,
	"filter_dimension" text NOT NULL,
	"filter_value" text NOT NULL,
	"dimension" text NOT NULL,
	"values" text[] NOT NULL,
	"events" bigint[] NOT NULL,
	"pageviews" bigint[] NOT NULL,
	"sketch_ends" integer[] NOT NULL,
	"sketches" "bytea" NOT NULL,
	"date" date NOT NULL,
	CONSTRAINT "site_daily_pair_rollups_pk" PRIMARY KEY("site_id","filter_dimension","dimension","filter_value","date")
);
--> statement-breakpoint
CREATE TABLE "site_monthly_pair_rollups" (
	"site_id" text NOT NULL,
	"filter_dimension" text NOT NULL,
	"filter_value" text NOT NULL,
	"dimension" text NOT NULL,
	"values" text[] NOT NULL,
	"events" bigint[] NOT NULL,
	"pageviews" bigint[] NOT NULL,
	"sketch_ends" integer[] NOT NULL,
	"sketches" "bytea" NOT NULL,
	"month" date NOT NULL,
	CONSTRAINT "site_monthly_pair_rollups_pk" PRIMARY KEY("site_id","filter_dimension","dimension","filter_value","month")
);
--> statement-breakpoint
-- Sketches are read in slices (`substring`): stored out of line and uncompressed, so a slice reads only its pages.
ALTER TABLE "site_daily_pair_rollups" ALTER COLUMN "sketches" SET STORAGE EXTERNAL;--> statement-breakpoint
ALTER TABLE "site_monthly_pair_rollups" ALTER COLUMN "sketches" SET STORAGE EXTERNAL;
