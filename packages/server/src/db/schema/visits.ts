/**
 * SPEC §11: one row per visit — a visitor's events on a site with no gap over
 * `VISIT_TIMEOUT_MINUTES`. Kept exact by the fold (`worker/visits.ts`): every
 * transaction that inserts a visitor's events recomputes the visits they touch.
 * Attributes are those of the visit's first event; `exit_page` is the path of
 * its last page view; `date` is the site-local day it started on.
 */
import { date, index, integer, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { keyText } from './key-text.js';

export const visits = pgTable(
  'visits',
  {
    siteId: keyText('site_id').notNull(),
    visitorId: keyText('visitor_id').notNull(),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
    endedAt: timestamp('ended_at', { withTimezone: true }).notNull(),
    date: date('date').notNull(),
    events: integer('events').notNull(),
    pageviews: integer('pageviews').notNull(),
    entryPage: text('entry_page').notNull(),
    exitPage: text('exit_page'),
    // Where the visit's order starts and its exit page sits, so a fold can extend it without re-reading its events.
    firstEventId: uuid('first_event_id').notNull(),
    exitAt: timestamp('exit_at', { withTimezone: true }),
    exitEventId: uuid('exit_event_id'),
    source: text('source'),
    channel: text('channel'),
    referrerDomain: text('referrer_domain'),
    utmSource: text('utm_source'),
    utmMedium: text('utm_medium'),
    utmCampaign: text('utm_campaign'),
    utmTerm: text('utm_term'),
    utmContent: text('utm_content'),
    device: text('device'),
    browser: text('browser'),
    os: text('os'),
    country: text('country'),
    region: text('region'),
    city: text('city'),
    language: text('language'),
  },
  (table) => [
    primaryKey({ columns: [table.siteId, table.visitorId, table.startedAt] }),
    index('idx_visits_site_date').on(table.siteId, table.date),
  ],
);
