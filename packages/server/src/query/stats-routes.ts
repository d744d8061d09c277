/** `GET /api/stats`: daily stats for a site, from the aggregates (SPEC §2), through the stats cache. */
import { zValidator } from '@hono/zod-validator';
import { formatIssues, type StatsQuery, statsQuerySchema } from '@tally/shared';
import { Hono } from 'hono';
import type { Database } from '../db/client.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { AnswerCache, CachedAnswer } from './answer-cache.js';
import { readStats } from './stats-queries.js';

function notFound(query: StatsQuery): NotFoundError {
  const when = query.date ? `on ${query.date}` : `between ${query.from} and ${query.to}`;
  const what = query.eventType ? ` for event type ${query.eventType}` : '';
  return new NotFoundError(`No stats found for site ${query.siteId}${what} ${when}`);
}

const JSON_HEADERS = { 'Content-Type': 'application/json' };

export function statsRoutes({ db, cache }: { db: Database; cache?: AnswerCache }) {
  return new Hono().get(
    '/',
    zValidator('query', statsQuerySchema, (result) => {
      if (!result.success) throw new ValidationError(formatIssues(result.error.issues));
    }),
    async (c) => {
      const query = c.req.valid('query');
      const key = `${query.date}|${query.from}|${query.to}|${query.limit}|${query.eventType}`;
      const cached = cache?.get(query.siteId, key);
      if (cached) return c.body(cached.body, cached.status, JSON_HEADERS);

      const generation = cache?.generation() ?? 0;
      const stats = await readStats(db, query);
      const answer: CachedAnswer = stats
        ? { status: 200, body: JSON.stringify(stats) }
        : { status: 404, body: JSON.stringify(notFound(query).toResponse()) };
      cache?.set(query.siteId, key, answer, generation);
      return c.body(answer.body, answer.status, JSON_HEADERS);
    },
  );
}
