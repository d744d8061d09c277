/**
 * Chooses and wires the backing services of one Tally: PostgreSQL and Redis
 * (BullMQ) when `DATABASE_URL` is set, else the embedded default of SPEC §7
 * (PGlite and an in-process queue). It hands the batch processor to whichever
 * queue runs, and lets the worker's folds invalidate the stats cache. `main.ts`
 * serves what this builds; the tests and `createTally()` build it the same way.
 */
import type { Queue } from 'bullmq';
import type { Hono } from 'hono';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import { connectPostgres, type DatabaseHandle } from './db/client.js';
import { openEmbeddedDatabase } from './db/embedded.js';
import { migratePostgres } from './db/migrate.js';
import { backendOf, ConfigError, type Env } from './env.js';
import { openGeoDatabase } from './ingest/enrich.js';
import { type RateLimitStore, redisRateLimitStore } from './ingest/rate-limit.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createStatsCache, type StatsCache } from './query/stats-cache.js';
import { createRedisConnection } from './queue/connection.js';
import { createBullEventsQueue, startBullWorker } from './queue/events-queue.js';
import { createInProcessQueue } from './queue/in-process-queue.js';
import { warnUnlessNoEviction } from './queue/redis-checks.js';
import type { BatchProcessor, EventQueue, QueueWorker } from './queue/types.js';
import { createBatchProcessor } from './worker/processor.js';
import { type RefoldLoop, startRefolds } from './worker/refold.js';
import { startRetention } from './worker/retention.js';
import { startSealing } from './worker/sketches.js';

export interface WorkerOptions {
  /** Jobs taken at once; `WORKER_CONCURRENCY` when absent. */
  concurrency?: number;
  /** The database the worker folds into; the services' own when absent. */
  database?: DatabaseHandle;
  /** Replaces the real batch processor (tests that fail on purpose). */
  processor?: BatchProcessor;
  logger?: Logger;
}

/** One Tally's connections and the parts built on them. */
export interface Services {
  config: Env;
  logger: Logger;
  database: DatabaseHandle;
  /** Serves `/api/stats`: a read replica when `STATS_DATABASE_URL` is set. */
  statsDatabase: DatabaseHandle;
  queue: EventQueue;
  /** The BullMQ queue behind `queue`, for Bull Board; absent on the embedded default. */
  bullQueue?: Queue;
  metrics: Metrics;
  statsCache: StatsCache;
  /** The HTTP app on these services. */
  createApp(options?: { trackerScript?: string | undefined }): Hono;
  /** Starts taking jobs: folds into the database, counts in `metrics`, invalidates `statsCache`. */
  startWorker(options?: WorkerOptions): QueueWorker;
  /** Deletes raw events past `RAW_RETENTION_DAYS` every hour; undefined when retention is off. */
  startRetention(): { stop(): Promise<void> } | undefined;
  /** After every worker has stopped: closes the queue and the databases. */
  close(): Promise<void>;
}

/** What differs between the two backends. */
interface Backend {
  database: DatabaseHandle;
  statsDatabase: DatabaseHandle;
  queue: EventQueue;
  bullQueue?: Queue;
  /** Redis counters shared by every instance; absent on the embedded default (counted in process). */
  rateLimitStore?: RateLimitStore;
  startQueueWorker(processor: BatchProcessor, concurrency: number, logger: Logger): QueueWorker;
  close(): Promise<void>;
}

async function connectPostgresAndRedis(config: Env & { DATABASE_URL: string }, logger: Logger): Promise<Backend> {
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
    startQueueWorker: (processor, concurrency, workerLogger) =>
      startBullWorker({
        connection: createRedisConnection(config, 'worker'),
        prefix: config.QUEUE_PREFIX,
        concurrency,
        processor,
        logger: workerLogger,
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

async function openEmbedded(config: Env, logger: Logger): Promise<Backend> {
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
    startQueueWorker: (processor, concurrency) => queue.startWorker({ processor, concurrency }),
    async close() {
      await queue.close();
      await database.close();
    },
  };
}

/** Connects (and migrates) the services `config` names, and wires them. */
export async function openServices(config: Env, logger: Logger): Promise<Services> {
  const backend =
    backendOf(config) === 'services'
      ? await connectPostgresAndRedis(config as Env & { DATABASE_URL: string }, logger)
      : await openEmbedded(config, logger);
  const { database, statsDatabase, queue } = backend;
  // Opened once: a missing or unreadable file stops startup naming the variable.
  const geoip = config.GEOIP_DATABASE
    ? await openGeoDatabase(config.GEOIP_DATABASE).catch((error: Error) => {
        throw new ConfigError(`GEOIP_DATABASE: cannot open ${config.GEOIP_DATABASE}: ${error.message}`);
      })
    : undefined;
  const metrics = createMetrics({ queue });
  const visitRules = { timeoutMinutes: config.VISIT_TIMEOUT_MINUTES, lateEventHours: config.LATE_EVENT_HOURS };
  const refoldLoops = new Set<RefoldLoop>();
  const statsCache = createStatsCache({ ttlMs: config.STATS_CACHE_MS });

  return {
    config,
    logger,
    database,
    statsDatabase,
    queue,
    ...(backend.bullQueue ? { bullQueue: backend.bullQueue } : {}),
    metrics,
    statsCache,
    createApp: ({ trackerScript } = {}) =>
      createApp({
        statsDb: statsDatabase.db,
        pingDatabase: statsDatabase.ping,
        queue,
        config,
        logger,
        metrics,
        statsCache,
        bullQueue: backend.bullQueue,
        db: database.db,
        onTimeZoneChanged: () => {
          for (const loop of refoldLoops) loop.kick();
        },
        ...(geoip ? { geoip } : {}),
        ...(backend.rateLimitStore ? { rateLimitStore: backend.rateLimitStore } : {}),
        ...(trackerScript !== undefined ? { trackerScript } : {}),
      }),
    startWorker({
      concurrency = config.WORKER_CONCURRENCY,
      database: workerDatabase = database,
      processor,
      logger: workerLogger = logger,
    } = {}) {
      const folds =
        processor ??
        createBatchProcessor({
          db: workerDatabase.db,
          logger: workerLogger,
          concurrency,
          visitRules,
          onFolded: (result, events) => {
            metrics.onFolded(result, events);
            statsCache.invalidateSites(new Set(events.map((event) => event.siteId)));
          },
        });
      const queueWorker = backend.startQueueWorker(metrics.instrumentProcessor(folds), concurrency, workerLogger);
      // Time-zone re-folds run beside the folds, in every worker process (one at a time per site: the site lock).
      const refolds = startRefolds({
        db: workerDatabase.db,
        rules: visitRules,
        logger: workerLogger,
        onRefolded: (siteId) => statsCache.invalidateSites(new Set([siteId])),
      });
      refoldLoops.add(refolds);
      // Days no on-time event can reach get their visitor sketches.
      const sealing = startSealing({ db: workerDatabase.db, rules: visitRules, logger: workerLogger });
      return {
        async close() {
          await queueWorker.close();
          refoldLoops.delete(refolds);
          await Promise.all([refolds.stop(), sealing.stop()]);
        },
      };
    },
    startRetention: () =>
      config.RAW_RETENTION_DAYS > 0
        ? startRetention({ db: database.db, days: config.RAW_RETENTION_DAYS, logger })
        : undefined,
    close: () => backend.close(),
  };
}
