/**
 * SPEC §7 as a new user meets it: the built server started in an empty folder
 * with no DATABASE_URL and no Redis settings stores events in PGlite under
 * `./.tally/`, counts them through the in-process queue, warns once that the
 * queue is not crash-durable, and still has the counts after a restart.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type ServerProcess, startServerProcess, stopAll, waitFor } from './processes.js';

const DAY = '2024-11-14';
const SITE = 'embedded_site';

describe('embedded default (no DATABASE_URL, no Redis)', () => {
  let folder: string;
  let port: number;

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'tally-embedded-'));
    port = await freePort();
  });
  afterAll(async () => {
    await stopAll();
    rmSync(folder, { recursive: true, force: true });
  });

  const start = () =>
    startServerProcess({ cwd: folder, env: { PORT: String(port), LOG_LEVEL: 'info' }, healthPort: port });

  async function stats(server: ServerProcess) {
    const response = await fetch(`${server.baseUrl}/api/stats?siteId=${SITE}&date=${DAY}`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it('counts posted events, and still has them after a restart', async () => {
    const first = await start();
    const warnings = first
      .output()
      .split('\n')
      .filter((line) => line.includes('"level":40'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/not durable across a crash/);
    expect(existsSync(join(folder, '.tally'))).toBe(true);

    const visitors = [randomUUID(), randomUUID(), randomUUID()];
    const events = Array.from({ length: 30 }, (_, i) => ({
      siteId: SITE,
      eventType: 'page_view',
      path: i % 3 === 0 ? '/pricing' : '/',
      timestamp: `${DAY}T10:${String(i).padStart(2, '0')}:00Z`,
      visitorId: visitors[i % 3],
      eventId: randomUUID(),
    }));
    const single = await fetch(`${first.baseUrl}/api/event`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(events[0]),
    });
    expect(single.status).toBe(202);
    const batch = await fetch(`${first.baseUrl}/api/events`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      // A resend of the first event rides along: it must not count twice.
      body: JSON.stringify({ events: events }),
    });
    expect(batch.status).toBe(202);
    expect(await batch.json()).toMatchObject({ accepted: 30 });

    const expected = {
      siteId: SITE,
      date: DAY,
      totalViews: 30,
      uniqueUsers: 3,
      topPaths: [
        { path: '/', views: 20 },
        { path: '/pricing', views: 10 },
      ],
    };
    const before = await waitFor(
      async () => {
        const answer = await stats(first);
        return answer.status === 200 && answer.body.totalViews === 30 ? answer.body : undefined;
      },
      20_000,
      'the events to be counted',
    );
    expect(before).toEqual(expected);
    const ready = await fetch(`${first.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await first.stop()).toBe(0);

    const second = await start();
    expect(await stats(second)).toEqual({ status: 200, body: expected });
    expect(await second.stop()).toBe(0);
  });

  it('refuses a second server on the same data folder instead of corrupting it', async () => {
    const owner = await start();
    const otherPort = await freePort();
    await expect(
      startServerProcess({
        cwd: folder,
        env: { PORT: String(otherPort) },
        healthPort: otherPort,
        startTimeoutMs: 30_000,
      }),
    ).rejects.toThrow(/in use by another Tally process/);
    await owner.stop();
  });

  it('refuses half a configuration, naming what is missing', async () => {
    const otherPort = await freePort();
    await expect(
      startServerProcess({
        cwd: folder,
        env: { PORT: String(otherPort), DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres' },
        healthPort: otherPort,
      }),
    ).rejects.toThrow(/set REDIS_URL \(or REDIS_HOST\)/);
  });
});
