/** `GET /metrics`: the process's Prometheus registry in the text format. */
import { Hono } from 'hono';
import type { Registry } from 'prom-client';

export function metricsRoutes({ registry }: { registry: Registry }) {
  return new Hono().get('/', async (c) =>
    c.body(await registry.metrics(), 200, { 'Content-Type': registry.contentType }),
  );
}
