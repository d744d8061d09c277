/**
 * Builds the Hono app from its dependencies (`createApp(deps)`); `main.ts`
 * wires real connections and tests wire their own. Nothing here opens a
 * connection. An event's way: `ingest/routes.ts` → `ingest/accept.ts` →
 * `queue/` → `worker/fold-batch.ts` → `db/schema/`.
 */
import type { Queue } from 'bullmq';
import type { Hono as HonoApp } from 'hono';
import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import type { Logger } from 'pino';
import { createSessions } from './dashboard/access.js';
import { dashboardRoutes } from './dashboard/routes.js';
import { shareRoutes } from './dashboard/share-routes.js';
import { listSiteIds, siteAccessLookup } from './dashboard/sites.js';
import type { Database } from './db/client.js';
import type { Env } from './env.js';
import { NotFoundError, toHttpError } from './errors.js';
import { BULL_BOARD_PATH, bullBoardRoutes } from './http/admin.js';
import { apiKeyAuth } from './http/api-key.js';
import { optionalBasicAuth } from './http/basic-auth.js';
import { bodyLimit } from './http/body-limit.js';
import { ingestCors, statsCors } from './http/cors.js';
import { docsRoutes } from './http/docs.js';
import { methodNotAllowed } from './http/method-not-allowed.js';
import { ingestMetrics, requestMetrics } from './http/metrics-middleware.js';
import { metricsRoutes } from './http/metrics-route.js';
import { probeRoutes, queueHealthRoutes } from './http/ops.js';
import { requestLogger } from './http/request-logger.js';
import { requireDatabase } from './http/require-database.js';
import { statsAccess } from './http/stats-access.js';
import { trackerRoutes } from './http/tracker.js';
import { createIngestDeps } from './ingest/accept.js';
import type { GeoDatabase } from './ingest/enrich.js';
import type { RateLimitStore } from './ingest/rate-limit.js';
import { ingestRoutes } from './ingest/routes.js';
import { createMetrics, type Metrics } from './metrics.js';
import type { AnswerCache } from './query/answer-cache.js';
import { queryRoutes } from './query/query-routes.js';
import { statsRoutes } from './query/stats-routes.js';
import type { EventQueue } from './queue/types.js';
import { adminAuth, sitesRoutes } from './sites/routes.js';
import { createSiteSettingsCache } from './sites/settings-cache.js';

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
  /** False while the database is not yet migrated (started with PostgreSQL down): its routes answer 503. Always ready when absent. */
  databaseReady?: () => boolean;
  /** Where the tracker is served; `/tally.js` when absent. */
  trackerPath?: string;
  /** Which route groups to serve besides ingestion and the tracker; all when absent. `stats` covers stats, query and sites. */
  routes?: { stats?: boolean; operations?: boolean; dashboard?: boolean };
  /** The `GEOIP_DATABASE`, opened at startup; country from CDN headers only when absent. */
  geoip?: GeoDatabase;
  /** A site's time zone changed through the API: start its re-fold (the worker polls anyway). */
  onTimeZoneChanged?: (siteId: string) => void;
  /** Caches `/api/stats` answers; the worker's folds invalidate it (see `answer-cache.ts`). None when absent. */
  statsCache?: AnswerCache;
  /** Caches `POST /api/query` answers, invalidated as `statsCache` is. None when absent. */
  queryCache?: AnswerCache;
}

export function createApp(deps: AppDeps): HonoApp {
  const { statsDb, pingDatabase, queue, config, logger } = deps;
  const metrics = deps.metrics ?? createMetrics({ queue });
  const app = new Hono();
  const siteSettings = createSiteSettingsCache(deps.db ?? statsDb);
  const ingest = createIngestDeps({
    queue,
    config,
    logger,
    db: deps.db ?? statsDb,
    rateLimitStore: deps.rateLimitStore,
    geoip: deps.geoip,
    siteSettings,
  });

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
  app.use('/api/query', statsCors({ allowedOrigins: config.STATS_CORS_ORIGINS, methods: 'POST, OPTIONS' }));
  app.use('/api/query', bodyLimit({ maxBytes: config.BODY_LIMIT }));
  // The query API opens to a stats key, and to the dashboard: its session cookie (same-origin only),
  // a site's share secret, a public site (SPEC §12, §13).
  const sessions = createSessions(config.STATS_API_KEYS);
  const lookupSite = siteAccessLookup(deps.db ?? statsDb);
  app.use('/api/query', statsAccess({ keys: config.STATS_API_KEYS, sessions, lookupSite }));
  app.use('/api/sites/*', statsCors({ allowedOrigins: config.STATS_CORS_ORIGINS }));
  if (deps.databaseReady) {
    const ready = requireDatabase({ isReady: deps.databaseReady });
    for (const path of ['/api/stats', '/api/query', '/api/sites/*', '/dashboard/:siteId']) app.use(path, ready);
    // Cookieless ids hash with salts kept in the database.
    if (config.VISITOR_ID_MODE === 'cookieless') for (const path of ['/api/event', '/api/events']) app.use(path, ready);
  }

  const { stats = true, operations = true, dashboard = true } = deps.routes ?? {};
  app.route('/api', ingestRoutes(ingest));
  if (stats) {
    app.route('/api/stats', statsRoutes({ db: statsDb, cache: deps.statsCache }));
    app.route(
      '/api/query',
      queryRoutes({
        db: statsDb,
        statsKeys: config.STATS_API_KEYS,
        ...(deps.queryCache ? { cache: deps.queryCache } : {}),
      }),
    );
    const adminKey = config.ADMIN_API_KEY;
    app.route('/api/sites', shareRoutes({ db: deps.db ?? statsDb, adminAuth: adminAuth(adminKey) }));
    app.route(
      '/api/sites',
      sitesRoutes({
        db: deps.db ?? statsDb,
        statsKeys: config.STATS_API_KEYS,
        adminKey,
        settings: siteSettings,
        // A changed site (a new zone, say) is read again; a deleted site's cached answers go with its data.
        onChanged: (siteId) => deps.queryCache?.invalidateSites([siteId]),
        onDeleted: (siteId) => {
          deps.statsCache?.invalidateSites([siteId]);
          deps.queryCache?.invalidateSites([siteId]);
        },
        ...(deps.onTimeZoneChanged ? { onTimeZoneChanged: deps.onTimeZoneChanged } : {}),
      }),
    );
  }
  if (operations) {
    app.route('/api/queues', queueHealthRoutes({ queue }));
    app.route('/', probeRoutes({ queue, pingDatabase }));
    app.route('/metrics', metricsRoutes({ registry: metrics.registry }));
  }
  app.route(
    '/',
    trackerRoutes({ script: deps.trackerScript, ...(deps.trackerPath ? { path: deps.trackerPath } : {}) }),
  );
  mountOperatorPages(app, deps);
  if (dashboard) {
    app.route(
      '/',
      dashboardRoutes({
        statsKeys: config.STATS_API_KEYS,
        sessions,
        lookupSite,
        listSites: () => listSiteIds(statsDb),
        docs: config.SWAGGER_ENABLED,
        trustProxy: config.TRUST_PROXY,
      }),
    );
  }

  app.all('/api/event', methodNotAllowed(['POST', 'OPTIONS']));
  app.all('/api/events', methodNotAllowed(['POST', 'OPTIONS']));
  if (stats) {
    app.all('/api/stats', methodNotAllowed(['GET', 'OPTIONS']));
    app.all('/api/query', methodNotAllowed(['POST', 'OPTIONS']));
    app.all('/api/sites', methodNotAllowed(['GET', 'OPTIONS']));
    app.all('/api/sites/:siteId', methodNotAllowed(['GET', 'PUT', 'DELETE', 'OPTIONS']));
    app.all('/api/sites/:siteId/share', methodNotAllowed(['POST', 'DELETE', 'OPTIONS']));
  }

  app.notFound((c) => {
    const error = new NotFoundError(`Cannot ${c.req.method} ${c.req.path}`);
    return c.json(error.toResponse(), 404);
  });
  app.onError((error, c) => {
    const httpError = toHttpError(error);
    if (httpError.statusCode === 503) {
      // A dependency that is down or not ready yet: expected, already reported by whoever noticed it.
      logger.warn({ path: c.req.path, requestId: c.get('requestId'), reason: httpError.message }, 'answered 503');
    } else if (httpError.statusCode >= 500) {
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
