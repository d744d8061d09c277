/**
 * Builds the Hono app from its dependencies (`createApp(deps)`); `main.ts`
 * wires real connections and tests wire their own. Nothing here opens a
 * connection. An event's way: `routes/event.ts` → `queue/` →
 * `worker/fold-batch.ts` → `db/schema/`.
 */
import type { Hono as HonoApp } from 'hono';
import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { Database } from './db/client.js';
import type { Env } from './env.js';
import { NotFoundError, toHttpError } from './errors.js';
import { bodyLimit } from './middleware/body-limit.js';
import { ingestCors, statsCors } from './middleware/cors.js';
import { methodNotAllowed } from './middleware/method-not-allowed.js';
import type { EventQueue } from './queue/types.js';
import { eventRoutes } from './routes/event.js';
import { eventsRoutes } from './routes/events.js';
import { probeRoutes, queueHealthRoutes } from './routes/ops.js';
import { statsRoutes } from './routes/stats.js';

export interface AppDeps {
  /** Serves `/api/stats`; a read replica when `STATS_DATABASE_URL` is set. */
  statsDb: Database;
  pingDatabase: () => Promise<void>;
  queue: EventQueue;
  config: Env;
  logger: Logger;
}

export function createApp({ statsDb, pingDatabase, queue, config, logger }: AppDeps): HonoApp {
  const app = new Hono();
  const ingest = { queue, cookie: { domain: config.COOKIE_DOMAIN, crossSite: config.COOKIE_CROSS_SITE } };

  for (const path of ['/api/event', '/api/events']) {
    app.use(path, ingestCors({ allowedOrigins: config.ALLOWED_ORIGINS }));
    app.use(path, bodyLimit({ maxBytes: config.BODY_LIMIT }));
  }
  app.use('/api/stats', statsCors({ allowedOrigins: config.STATS_CORS_ORIGINS }));

  app.route('/api/event', eventRoutes(ingest));
  app.route('/api/events', eventsRoutes(ingest));
  app.route('/api/stats', statsRoutes({ db: statsDb }));
  app.route('/api/queues', queueHealthRoutes({ queue }));
  app.route('/', probeRoutes({ queue, pingDatabase }));

  app.all('/api/event', methodNotAllowed(['POST', 'OPTIONS']));
  app.all('/api/events', methodNotAllowed(['POST', 'OPTIONS']));
  app.all('/api/stats', methodNotAllowed(['GET', 'OPTIONS']));

  app.notFound((c) => {
    const error = new NotFoundError(`Cannot ${c.req.method} ${c.req.path}`);
    return c.json(error.toResponse(), 404);
  });
  app.onError((error, c) => {
    const httpError = toHttpError(error);
    if (httpError.statusCode >= 500) logger.error({ err: error, path: c.req.path }, 'request failed');
    return c.json(httpError.toResponse(), httpError.statusCode as 500, httpError.headers);
  });
  return app;
}
