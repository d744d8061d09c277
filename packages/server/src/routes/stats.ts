/** `GET /api/stats`: daily stats for a site, from the aggregates (SPEC §2). */

import { zValidator } from '@hono/zod-validator';
import { formatIssues, statsQuerySchema } from '@tally/shared';
import { Hono } from 'hono';
import type { Database } from '../db/client.js';
import { readStats } from '../db/stats-queries.js';
import { NotFoundError, ValidationError } from '../errors.js';

export function statsRoutes({ db }: { db: Database }) {
  return new Hono().get(
    '/',
    zValidator('query', statsQuerySchema, (result) => {
      if (!result.success) throw new ValidationError(formatIssues(result.error.issues));
    }),
    async (c) => {
      const query = c.req.valid('query');
      const stats = await readStats(db, query);
      if (!stats) {
        const when = query.date ? `on ${query.date}` : `between ${query.from} and ${query.to}`;
        const what = query.eventType ? ` for event type ${query.eventType}` : '';
        throw new NotFoundError(`No stats found for site ${query.siteId}${what} ${when}`);
      }
      return c.json(stats);
    },
  );
}
