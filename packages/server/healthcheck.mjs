#!/usr/bin/env node
/**
 * The container's health probe (the image's HEALTHCHECK; docker-compose.yml passes `/readyz`).
 * It asks the port this process's role listens on:
 *
 *   ROLE=all|api (default all)   http://127.0.0.1:$PORT (3000)
 *   ROLE=worker + METRICS_PORT   http://127.0.0.1:$METRICS_PORT
 *   ROLE=worker alone            nothing listens: healthy while the container runs (its only process
 *                                is the worker, so a dead worker stops the container), with a note
 *
 *   node healthcheck.mjs [path]  path defaults to /healthz (liveness); /readyz also checks PostgreSQL and the queue
 *
 * Exit 0 healthy, 1 not; one line on stdout says why (Docker keeps it in `docker inspect`).
 * Plain JavaScript with no imports, so it runs wherever `node` does, before or without a build.
 */
const path = process.argv[2] ?? '/healthz';
const role = process.env.ROLE || 'all';
const port = role === 'worker' ? process.env.METRICS_PORT : process.env.PORT || '3000';

if (!port) {
  console.log('ROLE=worker without METRICS_PORT: no port to probe; healthy while the worker process runs');
  process.exit(0);
}

const url = `http://127.0.0.1:${port}${path}`;
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(2500) });
  console.log(`${url}: ${response.status}`);
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  console.log(`${url}: ${error?.cause?.code ?? error?.name ?? error}`);
  process.exit(1);
}
