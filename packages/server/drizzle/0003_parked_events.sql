CREATE TABLE "parked_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_id" text,
	"event" json NOT NULL,
	"error" text NOT NULL,
	"sql_state" text,
	"parked_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "idx_parked_events_parked_at" ON "parked_events" USING btree ("parked_at");