/**
 * The secret salt of each UTC day for cookieless visitor ids
 * (`VISITOR_ID_MODE=cookieless`, `privacy/visitor-id.ts`). Only today's and
 * yesterday's exist: older ones are deleted, so yesterday's visitor ids can no
 * longer be recomputed from an IP address and a User-Agent.
 */
import { date, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

export const dailySalts = pgTable('daily_salts', {
  day: date('day').primaryKey(),
  salt: text('salt').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).defaultNow().notNull(),
});
