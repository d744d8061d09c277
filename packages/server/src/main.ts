#!/usr/bin/env node
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
import { loadTrackerScript } from './http/tracker.js';
import { createLogger } from './logger.js';
import type { QueueWorker } from './queue/types.js';
import { openServices } from './services.js';

async function main() {
  const config = loadEnv();
  const logger = createLogger(config.LOG_LEVEL);
  const services = await openServices(config, logger, {
    onFatal: (error) => {
      console.error(`Tally cannot use its database: ${describeStartupError(error)}`);
      process.exit(1);
    },
  });
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
      trackerScript: loadTrackerScript(),
    });
    server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) =>
      logger.info({ port: info.port, role: config.ROLE }, `Tally listening on http://localhost:${info.port}`),
    );
    exitOnListenError(server, config.PORT);
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
      exitOnListenError(server, config.METRICS_PORT);
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

/** One line a person can act on, for the failures a start meets: a taken port, a missing database, a refused password. */
function describeStartupError(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  if (code === 'EADDRINUSE') return `${message}: another process listens on that port (set PORT)`;
  if (code === 'EACCES') return `${message}: not allowed to listen on that port (set PORT above 1024)`;
  if (code === '3D000') return `${message} (create it, or fix DATABASE_URL)`;
  if (code === '28P01' || code === '28000') return `${message} (check the user and password in DATABASE_URL)`;
  return message ?? String(error);
}

function exitOnListenError(server: { on(event: 'error', listener: (error: Error) => void): unknown }, port: number) {
  server.on('error', (error) => {
    console.error(`Tally cannot listen on port ${port}: ${describeStartupError(error)}`);
    process.exit(1);
  });
}

main().catch((error) => {
  if (error instanceof ConfigError || error?.name === 'DataDirLockedError') {
    console.error(error.message);
  } else {
    console.error(`Tally failed to start: ${describeStartupError(error)}`);
  }
  process.exit(1);
});
