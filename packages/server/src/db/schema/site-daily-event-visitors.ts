/** The visitor ledger per event type: who did `eventType` on a site that UTC day. */
import { date, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';

export const siteDailyEventVisitors = pgTable(
  'site_daily_event_visitors',
  {
    siteId: text('site_id').notNull(),
    date: date('date').notNull(),
    eventType: text('event_type').notNull(),
    visitorId: text('visitor_id').notNull(),
  },
  (table) => [primaryKey({ columns: [table.siteId, table.date, table.eventType, table.visitorId] })],
);
