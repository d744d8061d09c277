/**
 * Events per site, UTC day, event type and path, so that `/api/stats?eventType=`
 * answers from aggregates, never from raw events.
 */
import { bigint, date, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';

export const siteDailyEventCounts = pgTable(
  'site_daily_event_counts',
  {
    siteId: text('site_id').notNull(),
    date: date('date').notNull(),
    eventType: text('event_type').notNull(),
    path: text('path').notNull(),
    events: bigint('events', { mode: 'number' }).notNull().default(0),
  },
  (table) => [primaryKey({ columns: [table.siteId, table.date, table.eventType, table.path] })],
);
