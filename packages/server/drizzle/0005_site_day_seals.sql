CREATE TABLE "site_day_seals" (
	"site_id" text NOT NULL,
	"date" date NOT NULL,
	"events" bigint NOT NULL,
	"sealed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "site_day_seals_site_id_date_pk" PRIMARY KEY("site_id","date")
);
