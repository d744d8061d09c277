/**
 * Events per site, UTC day, event type and path, so that `/api/stats?eventType=`
 * answers from aggregates, never from raw events.
 */
import { bigint, date, pgTable, primaryKey } from 'drizzle-orm/pg-core';
import { keyText } from './key-text.js';

export const siteDailyEventCounts = pgTable(
  'site_daily_event_counts',
  {
    siteId: keyText('site_id').notNull(),
    date: date('date').notNull(),
    eventType: keyText('event_type').notNull(),
    path: keyText('path').notNull(),
    events: bigint('events', { mode: 'number' }).notNull().default(0),
  },
  (table) => [primaryKey({ columns: [table.siteId, table.date, table.eventType, table.path] })],
);
