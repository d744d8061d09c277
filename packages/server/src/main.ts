/**
 * The process: reads the configuration, migrates, wires the real connections
 * into the app and the worker by `ROLE`, serves, and shuts down cleanly on
 * SIGTERM/SIGINT (stop accepting, finish active jobs, close connections).
 */
import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { connectPostgres } from './db/client.js';
import { migratePostgres } from './db/migrate.js';
import { ConfigError, loadEnv } from './env.js';
import { createLogger } from './logger.js';
import { createRedisConnection, hasRedisSettings } from './queue/connection.js';
import { createBullEventsQueue, startBullWorker } from './queue/events-queue.js';
import type { QueueWorker } from './queue/types.js';
import { createBatchProcessor } from './worker/processor.js';

async function main() {
  const config = loadEnv();
  const logger = createLogger(config.LOG_LEVEL);
  if (!config.DATABASE_URL || !hasRedisSettings(config)) {
    const missing = [!config.DATABASE_URL && 'DATABASE_URL', !hasRedisSettings(config) && 'REDIS_URL (or REDIS_HOST)'];
    throw new ConfigError(`Set ${missing.filter(Boolean).join(' and ')} to run Tally against PostgreSQL and Redis.`);
  }

  await migratePostgres(config.DATABASE_URL);
  const database = connectPostgres(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
  const statsDatabase = config.STATS_DATABASE_URL
    ? connectPostgres(config.STATS_DATABASE_URL, config.DATABASE_POOL_SIZE)
    : database;

  const producer = createRedisConnection(config, 'producer');
  const queue = createBullEventsQueue({ connection: producer, prefix: config.QUEUE_PREFIX, logger });
  await queue.queue.waitUntilReady();

  let worker: QueueWorker | undefined;
  if (config.ROLE !== 'api') {
    const processor = createBatchProcessor({ db: database.db, logger });
    worker = startBullWorker({
      connection: createRedisConnection(config, 'worker'),
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      processor,
      logger,
    });
  }

  let server: ReturnType<typeof serve> | undefined;
  if (config.ROLE !== 'worker') {
    const app = createApp({ statsDb: statsDatabase.db, pingDatabase: statsDatabase.ping, queue, config, logger });
    server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) =>
      logger.info({ port: info.port, role: config.ROLE }, `Tally listening on http://localhost:${info.port}`),
    );
  } else {
    logger.info({ role: config.ROLE, concurrency: config.WORKER_CONCURRENCY }, 'Tally worker started');
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await worker?.close();
    await queue.close();
    producer.disconnect();
    await database.close();
    if (statsDatabase !== database) await statsDatabase.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
  } else {
    console.error('Tally failed to start:', error);
  }
  process.exit(1);
});
