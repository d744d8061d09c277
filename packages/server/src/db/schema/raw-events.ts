/** Every accepted event, once: the primary key is the idempotency key. */
import { sql } from 'drizzle-orm';
import { date, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const rawEvents = pgTable(
  'raw_events',
  {
    eventId: uuid('event_id').primaryKey().notNull(),
    siteId: text('site_id').notNull(),
    eventType: text('event_type').notNull(),
    path: text('path').notNull(),
    userId: text('user_id'),
    visitorId: text('visitor_id'),
    eventTs: timestamp('event_ts', { withTimezone: true }).notNull(),
    ingestionTs: timestamp('ingestion_ts', { withTimezone: true }).defaultNow().notNull(),
    eventDate: date('event_date').generatedAlwaysAs(sql`(event_ts AT TIME ZONE 'UTC')::date`).notNull(),
    referrer: text('referrer'),
    props: jsonb('props'),
  },
  // The original design's (site_id, event_date) index is a prefix of this one, so it is left out.
  (table) => [index('idx_raw_events_site_date_path').on(table.siteId, table.eventDate, table.path)],
);
