/**
 * The process: reads the configuration, opens the services it names
 * (`services.ts`), runs the worker and the API by `ROLE`, serves, and shuts
 * down cleanly on SIGTERM/SIGINT (stop accepting, finish active jobs, close
 * connections).
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { ConfigError, loadEnv } from './env.js';
import { metricsRoutes } from './http/metrics-route.js';
import { probeRoutes } from './http/ops.js';
import { readTrackerScript } from './http/tracker.js';
import { createLogger } from './logger.js';
import type { QueueWorker } from './queue/types.js';
import { openServices } from './services.js';

async function main() {
  const config = loadEnv();
  const logger = createLogger(config.LOG_LEVEL);
  const services = await openServices(config, logger);
  const { queue, database, metrics } = services;

  let worker: QueueWorker | undefined;
  let retention: { stop(): Promise<void> } | undefined;
  if (config.ROLE !== 'api') {
    worker = services.startWorker();
    retention = services.startRetention();
  }

  let server: ReturnType<typeof serve> | undefined;
  if (config.ROLE !== 'worker') {
    const app = services.createApp({
      // src/main.ts and dist/main.js sit at the same depth, so this finds the SDK's build from either.
      trackerScript: readTrackerScript(new URL('../../sdk/dist/tally.js', import.meta.url)),
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
    await services.close();
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
