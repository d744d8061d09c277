/** The visitor ledger per event type: who did `eventType` on a site that UTC day. */
import { date, pgTable, primaryKey } from 'drizzle-orm/pg-core';
import { keyText } from './key-text.js';

export const siteDailyEventVisitors = pgTable(
  'site_daily_event_visitors',
  {
    siteId: keyText('site_id').notNull(),
    date: date('date').notNull(),
    eventType: keyText('event_type').notNull(),
    visitorId: keyText('visitor_id').notNull(),
  },
  (table) => [primaryKey({ columns: [table.siteId, table.date, table.eventType, table.visitorId] })],
);
