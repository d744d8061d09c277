#!/usr/bin/env node
/**
 * The process: reads the configuration, picks the backing services (PostgreSQL
 * and Redis, or the embedded default of SPEC §7), migrates, wires the real
 * connections into the app and the worker by `ROLE`, serves, and shuts down
 * cleanly on SIGTERM/SIGINT (stop accepting, finish active jobs, close
 * connections).
 */
import { createRequire } from 'node:module';
import { serve } from '@hono/node-server';
import type { Queue } from 'bullmq';
import { Hono } from 'hono';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import { connectPostgres, type DatabaseHandle } from './db/client.js';
import { openEmbeddedDatabase } from './db/embedded.js';
import { migratePostgres } from './db/migrate.js';
import { backendOf, ConfigError, type Env, loadEnv } from './env.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { createRedisConnection } from './queue/connection.js';
import { createBullEventsQueue, startBullWorker } from './queue/events-queue.js';
import { createInProcessQueue } from './queue/in-process-queue.js';
import { warnUnlessNoEviction } from './queue/redis-checks.js';
import type { BatchProcessor, EventQueue, QueueWorker } from './queue/types.js';
import { type RateLimitStore, redisRateLimitStore } from './rate-limit.js';
import { metricsRoutes } from './routes/metrics.js';
import { probeRoutes } from './routes/ops.js';
import { readTrackerScript } from './routes/tracker.js';
import { createStatsCache } from './stats-cache.js';
import { createBatchProcessor } from './worker/processor.js';
import { startRetention } from './worker/retention.js';

/** The connections one process holds, whichever services sit behind them. */
interface Backend {
  database: DatabaseHandle;
  /** Serves `/api/stats`: a read replica when `STATS_DATABASE_URL` is set. */
  statsDatabase: DatabaseHandle;
  queue: EventQueue;
  bullQueue?: Queue;
  /** Redis counters shared by every instance; absent on the embedded default (counted in process). */
  rateLimitStore?: RateLimitStore;
  startWorker(processor: BatchProcessor, concurrency: number): QueueWorker;
  /** After the worker has stopped: closes the queue and the databases. */
  close(): Promise<void>;
}

async function connectServices(config: Env & { DATABASE_URL: string }, logger: Logger): Promise<Backend> {
  await migratePostgres(config.DATABASE_URL);
  const database = connectPostgres(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
  const statsDatabase = config.STATS_DATABASE_URL
    ? connectPostgres(config.STATS_DATABASE_URL, config.DATABASE_POOL_SIZE)
    : database;

  const producer = createRedisConnection(config, 'producer');
  const queue = createBullEventsQueue({ connection: producer, prefix: config.QUEUE_PREFIX, logger });
  await queue.queue.waitUntilReady();
  void warnUnlessNoEviction(producer, logger);
  const rateLimited = config.RATE_LIMIT_IP_PER_MINUTE > 0 || config.RATE_LIMIT_SITE_PER_MINUTE > 0;
  const limiter = rateLimited && config.ROLE !== 'worker' ? createRedisConnection(config, 'limiter') : undefined;
  limiter?.on('error', () => {}); // the limiter fails open; the queue's own connection reports Redis errors
  return {
    database,
    statsDatabase,
    queue,
    bullQueue: queue.queue,
    ...(limiter ? { rateLimitStore: redisRateLimitStore(limiter) } : {}),
    startWorker: (processor, concurrency) =>
      startBullWorker({
        connection: createRedisConnection(config, 'worker'),
        prefix: config.QUEUE_PREFIX,
        concurrency,
        processor,
        logger,
        lockMs: config.JOB_LOCK_MS,
      }),
    async close() {
      await queue.close();
      producer.disconnect();
      limiter?.disconnect();
      await database.close();
      if (statsDatabase !== database) await statsDatabase.close();
    },
  };
}

async function startEmbedded(config: Env, logger: Logger): Promise<Backend> {
  const database = await openEmbeddedDatabase(config.TALLY_DATA_DIR);
  const queue = createInProcessQueue({ logger });
  logger.info({ dataDir: database.dataDir }, 'embedded default: PGlite database and in-process queue');
  logger.warn(
    'Queued events are held in memory and are not durable across a crash (a clean stop drains them first). Set DATABASE_URL and REDIS_URL to run on PostgreSQL and Redis.',
  );
  return {
    database,
    statsDatabase: database,
    queue,
    startWorker: (processor, concurrency) => queue.startWorker({ processor, concurrency }),
    async close() {
      await queue.close();
      await database.close();
    },
  };
}

/**
 * The SDK's built `tally.js`, found through the @tally/sdk package (its `./tally.js` export): the
 * workspace link in the repository, `node_modules` where @tally/server is installed from a tarball.
 */
function loadTrackerScript(): string | undefined {
  try {
    return readTrackerScript(createRequire(import.meta.url).resolve('@tally/sdk/tally.js'));
  } catch {
    return undefined; // not built or not installed: GET /tally.js answers 404 saying so
  }
}

async function main() {
  const config = loadEnv();
  const logger = createLogger(config.LOG_LEVEL);
  const backend =
    backendOf(config) === 'services'
      ? await connectServices(config as Env & { DATABASE_URL: string }, logger)
      : await startEmbedded(config, logger);
  const { database, statsDatabase, queue } = backend;
  const metrics = createMetrics({ queue });
  const statsCache = createStatsCache({ ttlMs: config.STATS_CACHE_MS });

  let worker: QueueWorker | undefined;
  if (config.ROLE !== 'api') {
    const processor = createBatchProcessor({
      db: database.db,
      logger,
      concurrency: config.WORKER_CONCURRENCY,
      onFolded: (result, events) => {
        metrics.onFolded(result, events);
        statsCache.invalidateSites(new Set(events.map((event) => event.siteId)));
      },
    });
    worker = backend.startWorker(metrics.instrumentProcessor(processor), config.WORKER_CONCURRENCY);
  }
  const retention =
    config.ROLE !== 'api' && config.RAW_RETENTION_DAYS > 0
      ? startRetention({ db: database.db, days: config.RAW_RETENTION_DAYS, logger })
      : undefined;

  let server: ReturnType<typeof serve> | undefined;
  if (config.ROLE !== 'worker') {
    const app = createApp({
      statsDb: statsDatabase.db,
      pingDatabase: statsDatabase.ping,
      queue,
      config,
      logger,
      metrics,
      statsCache,
      bullQueue: backend.bullQueue,
      db: database.db,
      ...(backend.rateLimitStore ? { rateLimitStore: backend.rateLimitStore } : {}),
      trackerScript: loadTrackerScript(),
    });
    server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) =>
      logger.info({ port: info.port, role: config.ROLE }, `Tally listening on http://localhost:${info.port}`),
    );
  } else {
    logger.info({ role: config.ROLE, concurrency: config.WORKER_CONCURRENCY }, 'Tally worker started');
    if (config.METRICS_PORT !== undefined) {
      // A worker has no API; this small app lets orchestrators probe it and Prometheus scrape it.
      const ops = new Hono()
        .route('/', probeRoutes({ queue, pingDatabase: database.ping }))
        .route('/metrics', metricsRoutes({ registry: metrics.registry }));
      server = serve({ fetch: ops.fetch, port: config.METRICS_PORT, hostname: config.HOST }, (info) =>
        logger.info({ port: info.port }, 'worker health and metrics listening'),
      );
    }
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await worker?.close();
    await retention?.stop();
    await backend.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error) => {
  if (error instanceof ConfigError || error?.name === 'DataDirLockedError') {
    console.error(error.message);
  } else {
    console.error('Tally failed to start:', error);
  }
  process.exit(1);
});
