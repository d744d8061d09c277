/**
 * Builds the Hono app from its dependencies (`createApp(deps)`); `main.ts`
 * wires real connections and tests wire their own. Nothing here opens a
 * connection. An event's way: `routes/event.ts` → `queue/` →
 * `worker/fold-batch.ts` → `db/schema/`.
 */
import type { Queue } from 'bullmq';
import type { Hono as HonoApp } from 'hono';
import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import type { Logger } from 'pino';
import type { Database } from './db/client.js';
import type { Env } from './env.js';
import { NotFoundError, toHttpError } from './errors.js';
import { createMetrics, type Metrics } from './metrics.js';
import { apiKeyAuth } from './middleware/api-key.js';
import { optionalBasicAuth } from './middleware/basic-auth.js';
import { bodyLimit } from './middleware/body-limit.js';
import { ingestCors, statsCors } from './middleware/cors.js';
import { methodNotAllowed } from './middleware/method-not-allowed.js';
import { ingestMetrics, requestMetrics } from './middleware/metrics.js';
import { requestLogger } from './middleware/request-logger.js';
import { createBotFilter } from './privacy/bot-filter.js';
import { postgresSaltStore } from './privacy/salts.js';
import { cookielessVisitorIds, cookieVisitorIds } from './privacy/visitor-id.js';
import type { EventQueue } from './queue/types.js';
import { createRateLimiter, memoryRateLimitStore, type RateLimitStore } from './rate-limit.js';
import { BULL_BOARD_PATH, bullBoardRoutes } from './routes/admin.js';
import { docsRoutes } from './routes/docs.js';
import { eventRoutes } from './routes/event.js';
import { eventsRoutes } from './routes/events.js';
import type { IngestDeps } from './routes/ingest-deps.js';
import { metricsRoutes } from './routes/metrics.js';
import { probeRoutes, queueHealthRoutes } from './routes/ops.js';
import { statsRoutes } from './routes/stats.js';
import { trackerRoutes } from './routes/tracker.js';
import type { StatsCache } from './stats-cache.js';

export interface AppDeps {
  /** Serves `/api/stats`; a read replica when `STATS_DATABASE_URL` is set. */
  statsDb: Database;
  pingDatabase: () => Promise<void>;
  queue: EventQueue;
  config: Env;
  logger: Logger;
  /** This process's metrics (shared with its worker); a fresh registry when absent. */
  metrics?: Metrics;
  /** The BullMQ queue behind `queue`, for Bull Board; absent on the embedded default. */
  bullQueue?: Queue;
  /** The built tracker IIFE served at `/tally.js`; that route answers 404 when absent. */
  trackerScript?: string;
  /** The primary database, for the API's own writes (cookieless salts); `statsDb` when absent. */
  db?: Database;
  /** Where rate limits count: Redis, shared by every instance; in process when absent. */
  rateLimitStore?: RateLimitStore;
  /** Caches `/api/stats` answers; the worker's folds invalidate it (see `stats-cache.ts`). None when absent. */
  statsCache?: StatsCache;
}

/** The ingestion routes' dependencies, from the configuration (privacy mode, bots, rate limits). */
function ingestDeps({ queue, config, logger, statsDb, db, rateLimitStore }: AppDeps): IngestDeps {
  const visitors =
    config.VISITOR_ID_MODE === 'cookieless'
      ? cookielessVisitorIds({ salts: postgresSaltStore(db ?? statsDb), trustProxy: config.TRUST_PROXY })
      : cookieVisitorIds({ domain: config.COOKIE_DOMAIN, crossSite: config.COOKIE_CROSS_SITE });
  const rateLimiter = createRateLimiter({
    store: rateLimitStore ?? memoryRateLimitStore(),
    prefix: config.QUEUE_PREFIX,
    ipPerMinute: config.RATE_LIMIT_IP_PER_MINUTE,
    sitePerMinute: config.RATE_LIMIT_SITE_PER_MINUTE,
    logger,
  });
  const deps: IngestDeps = { queue, visitors, trustProxy: config.TRUST_PROXY };
  if (config.BOT_FILTER) deps.botFilter = createBotFilter();
  if (rateLimiter) deps.rateLimiter = rateLimiter;
  return deps;
}

export function createApp(deps: AppDeps): HonoApp {
  const { statsDb, pingDatabase, queue, config, logger } = deps;
  const metrics = deps.metrics ?? createMetrics({ queue });
  const app = new Hono();
  const ingest = ingestDeps(deps);

  app.use(requestId());
  app.use(requestLogger({ logger }));
  app.use(requestMetrics({ metrics }));
  for (const path of ['/api/event', '/api/events']) {
    app.use(path, ingestMetrics({ metrics }));
    app.use(path, ingestCors({ allowedOrigins: config.ALLOWED_ORIGINS }));
    app.use(path, bodyLimit({ maxBytes: config.BODY_LIMIT }));
  }
  app.use('/api/stats', statsCors({ allowedOrigins: config.STATS_CORS_ORIGINS }));
  app.use('/api/stats', apiKeyAuth({ keys: config.STATS_API_KEYS }));

  app.route('/api/event', eventRoutes(ingest));
  app.route('/api/events', eventsRoutes(ingest));
  app.route('/api/stats', statsRoutes({ db: statsDb, cache: deps.statsCache }));
  app.route('/api/queues', queueHealthRoutes({ queue }));
  app.route('/', probeRoutes({ queue, pingDatabase }));
  app.route('/metrics', metricsRoutes({ registry: metrics.registry }));
  app.route('/', trackerRoutes({ script: deps.trackerScript }));
  mountOperatorPages(app, deps);

  app.all('/api/event', methodNotAllowed(['POST', 'OPTIONS']));
  app.all('/api/events', methodNotAllowed(['POST', 'OPTIONS']));
  app.all('/api/stats', methodNotAllowed(['GET', 'OPTIONS']));

  app.notFound((c) => {
    const error = new NotFoundError(`Cannot ${c.req.method} ${c.req.path}`);
    return c.json(error.toResponse(), 404);
  });
  app.onError((error, c) => {
    const httpError = toHttpError(error);
    if (httpError.statusCode >= 500) {
      logger.error({ err: error, path: c.req.path, requestId: c.get('requestId') }, 'request failed');
    }
    return c.json(httpError.toResponse(), httpError.statusCode as 500, httpError.headers);
  });
  return app;
}

/** API docs and Bull Board, each behind basic auth when its user and password are set (SPEC §2). */
function mountOperatorPages(app: HonoApp, { config, logger, bullQueue }: AppDeps) {
  if (config.SWAGGER_ENABLED) {
    const docsAuth = optionalBasicAuth({
      username: config.SWAGGER_USER,
      password: config.SWAGGER_PASSWORD,
      realm: 'Tally API docs',
    });
    for (const path of ['/api', '/api/openapi.json', '/api/docs/*']) app.use(path, docsAuth);
    app.route('/api', docsRoutes());
  }
  if (!bullQueue) return;
  const protectedBoard = config.BULL_BOARD_USER !== undefined && config.BULL_BOARD_PASSWORD !== undefined;
  if (config.NODE_ENV === 'production' && !protectedBoard) {
    logger.info('Bull Board is not mounted: set BULL_BOARD_USER and BULL_BOARD_PASSWORD to use it in production');
    return;
  }
  app.use(
    `${BULL_BOARD_PATH}/*`,
    optionalBasicAuth({
      username: config.BULL_BOARD_USER,
      password: config.BULL_BOARD_PASSWORD,
      realm: 'Tally queues',
    }),
  );
  app.route(BULL_BOARD_PATH, bullBoardRoutes({ queue: bullQueue }));
}
