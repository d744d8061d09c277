/** Every accepted event, once: the primary key is the idempotency key. */
import { sql } from 'drizzle-orm';
import { date, index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { keyText } from './key-text.js';

export const rawEvents = pgTable(
  'raw_events',
  {
    eventId: uuid('event_id').primaryKey().notNull(),
    siteId: keyText('site_id').notNull(),
    eventType: keyText('event_type').notNull(),
    path: keyText('path').notNull(),
    userId: text('user_id'),
    visitorId: keyText('visitor_id'),
    eventTs: timestamp('event_ts', { withTimezone: true }).notNull(),
    ingestionTs: timestamp('ingestion_ts', { withTimezone: true }).defaultNow().notNull(),
    eventDate: date('event_date').generatedAlwaysAs(sql`(event_ts AT TIME ZONE 'UTC')::date`).notNull(),
    referrer: text('referrer'),
    props: jsonb('props'),
    // SPEC §10: sent by the tracker.
    utmSource: text('utm_source'),
    utmMedium: text('utm_medium'),
    utmCampaign: text('utm_campaign'),
    utmTerm: text('utm_term'),
    utmContent: text('utm_content'),
    language: text('language'),
    screenWidth: integer('screen_width'),
    // SPEC §10: derived on ingestion (ingest/enrich.ts); never the IP or the User-Agent itself.
    source: text('source'),
    channel: text('channel'),
    referrerDomain: text('referrer_domain'),
    device: text('device'),
    browser: text('browser'),
    browserVersion: text('browser_version'),
    os: text('os'),
    osVersion: text('os_version'),
    country: text('country'),
    region: text('region'),
    city: text('city'),
  },
  (table) => [
    // The original design's (site_id, event_date) index is a prefix of this one, so it is left out.
    index('idx_raw_events_site_date_path').on(table.siteId, table.eventDate, table.path),
    // Recomputing one visitor's visits (the fold), re-folding a site by time (time zone changes).
    index('idx_raw_events_site_visitor_ts').on(table.siteId, table.visitorId, table.eventTs),
  ],
);
