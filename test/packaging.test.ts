/**
 * What a user of the published packages gets: `npm pack` of @tally/shared, @tally/sdk and
 * @tally/server (each builds on `prepack`), the three tarballs installed into a new app in a temporary
 * folder, and each package used there the way its docs say — nothing from this checkout on the path.
 * docs/install.md describes the same steps.
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../packages/server/test/chromium.js';
import { freePort, waitFor } from '../packages/server/test/processes.js';
import {
  createTestDatabase,
  deleteQueueKeys,
  TEST_REDIS_URL,
  uniqueQueuePrefix,
} from '../packages/server/test/support.js';
import { background, check, ROOT } from './helpers.js';

let dir: string;
let app: string;
let tarballs: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-pack-'));
  const workspaces = ['@tally/shared', '@tally/sdk', '@tally/server'].flatMap((name) => ['-w', name]);
  await check('npm', ['pack', ...workspaces, '--pack-destination', dir], { cwd: ROOT });
  tarballs = (await readdir(dir)).filter((name) => name.endsWith('.tgz')).sort();

  app = join(dir, 'app');
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }));
  const install = ['install', '--no-audit', '--no-fund', '--prefer-offline'];
  await check('npm', [...install, ...tarballs.map((name) => join(dir, name))], { cwd: app });
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs a module in the app, as plain Node would (no TypeScript, no `source` condition); resolves to its stdout. */
async function inApp(code: string, type: 'module' | 'commonjs' = 'module'): Promise<string> {
  return (await check(process.execPath, ['--input-type', type, '--eval', code], { cwd: app })).stdout.trim();
}

const installed = (name: string, ...path: string[]) => join(app, 'node_modules', '@tally', name, ...path);

describe('npm pack', () => {
  it('makes one tarball per package, with built files and no TypeScript sources', async () => {
    expect(tarballs).toEqual(['tally-sdk-0.1.0.tgz', 'tally-server-0.1.0.tgz', 'tally-shared-0.1.0.tgz']);
    for (const name of ['shared', 'sdk', 'server']) {
      const files = await readdir(installed(name));
      expect(files, name).not.toContain('src');
      expect(files, name).toContain('dist');
    }
    expect(await readdir(installed('shared', 'dist'))).toEqual(
      expect.arrayContaining(['index.js', 'index.cjs', 'index.d.ts', 'limits.js', 'limits.d.ts']),
    );
    expect(await readdir(installed('sdk', 'dist'))).toEqual(
      expect.arrayContaining(['index.js', 'index.cjs', 'index.d.ts', 'tally.js']),
    );
    expect(await readdir(installed('server', 'drizzle', 'meta'))).toContain('_journal.json');
    expect(await readFile(installed('server', 'dist', 'main.js'), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
  });
});

describe('@tally/sdk, installed', () => {
  it('imports from its ESM and CommonJS entries in Node (doing nothing without a page) and has its types', async () => {
    const exported = 'createTracker init track pageview identify flush optOut optIn'.split(' ');
    const esm = await inApp(
      "const sdk = await import('@tally/sdk'); console.log(JSON.stringify(Object.keys(sdk).sort()));",
    );
    expect(JSON.parse(esm)).toEqual(expect.arrayContaining(exported));
    expect(await inApp("console.log(typeof require('@tally/sdk').createTracker)", 'commonjs')).toBe('function');
    expect(await inApp("const { createTracker } = await import('@tally/sdk'); console.log(typeof createTracker)")).toBe(
      'function',
    );
    const packageJson = JSON.parse(await readFile(installed('sdk', 'package.json'), 'utf8'));
    expect(packageJson.exports['.'].import.types).toBe('./dist/index.d.ts');
    expect(await readFile(installed('sdk', 'dist', 'index.d.ts'), 'utf8')).toMatch(/createTracker/);
  });

  it('exports the script-tag tracker as @tally/sdk/tally.js', async () => {
    const file = await inApp("console.log(new URL(import.meta.resolve('@tally/sdk/tally.js')).pathname)");
    expect(file).toBe(installed('sdk', 'dist', 'tally.js'));
    expect((await readFile(file, 'utf8')).length).toBeGreaterThan(1000);
  });
});

describe('@tally/shared, installed', () => {
  it('parses an event with its schemas from plain Node, ESM and CommonJS, and exports ./limits', async () => {
    const event = { siteId: 'my_site', eventType: 'page_view', path: '/', timestamp: '2024-11-14T10:00:00Z' };
    const parsed = await inApp(`
      const { eventSchema } = await import('@tally/shared');
      const ok = eventSchema.safeParse(${JSON.stringify(event)});
      const bad = eventSchema.safeParse({ ...${JSON.stringify(event)}, siteId: '' });
      console.log(JSON.stringify([ok.success, ok.data?.siteId, bad.success]));`);
    expect(JSON.parse(parsed)).toEqual([true, 'my_site', false]);
    const cjs = await inApp(
      `const { eventSchema } = require('@tally/shared'); const { LIMITS } = require('@tally/shared/limits');
       console.log(eventSchema.safeParse(${JSON.stringify(event)}).success, LIMITS.batchMaxEvents)`,
      'commonjs',
    );
    expect(cjs).toBe('true 100');
    expect(
      await inApp("const { LIMITS } = await import('@tally/shared/limits'); console.log(LIMITS.bodyMaxBytes)"),
    ).toBe('65536');
  });
});

describe('@tally/server, installed', () => {
  it('starts from its bin on the embedded default, answers /healthz and /tally.js, and stops on SIGTERM', async () => {
    const port = await freePort();
    const dataDir = join(dir, 'data');
    const server = background(join(app, 'node_modules', '.bin', 'tally-server'), [], {
      cwd: app,
      env: { PORT: String(port), TALLY_DATA_DIR: dataDir, LOG_LEVEL: 'info' },
    });
    try {
      const base = `http://127.0.0.1:${port}`;
      const health = await waitFor(
        async () => {
          if (server.child.exitCode !== null) throw new Error(`tally-server exited:\n${server.output()}`);
          const response = await fetch(`${base}/healthz`);
          return response.ok ? response : undefined;
        },
        90_000,
        'tally-server to answer /healthz',
      );
      expect(await health.json()).toEqual({ status: 'ok' });
      const tracker = await fetch(`${base}/tally.js`);
      expect(tracker.status).toBe(200);
      expect(tracker.headers.get('content-type')).toMatch(/javascript/);
      expect(await tracker.text()).toBe(await readFile(installed('sdk', 'dist', 'tally.js'), 'utf8'));
      // The embedded default migrated from the packaged drizzle/ folder and folds what it accepts.
      const accepted = await fetch(`${base}/api/event`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          siteId: 'pack_site',
          eventType: 'page_view',
          path: '/',
          timestamp: '2024-11-14T10:00:00Z',
        }),
      });
      expect(accepted.status).toBe(202);
      const stats = await waitFor(
        async () => {
          const response = await fetch(`${base}/api/stats?siteId=pack_site&date=2024-11-14`);
          return response.ok ? ((await response.json()) as { totalViews: number }) : undefined;
        },
        15_000,
        'the event to be counted',
      );
      expect(stats.totalViews).toBe(1);
    } finally {
      const code = await server.stop(30_000);
      expect(code, server.output()).toBe(0);
    }
    expect(server.output()).toMatch(/"msg":"stopped"/);
  });
});

describe('@tally/server embedded in a Hono app (examples/hono-embed), installed from the tarballs', () => {
  it('serves page, tracker and collection from one origin; Chromium’s events are counted with no other request', async () => {
    await check('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', 'hono@^4', '@hono/node-server@^2'], {
      cwd: app,
    });
    await copyFile(join(ROOT, 'examples', 'hono-embed', 'server.mjs'), join(app, 'server.mjs'));
    const database = await createTestDatabase();
    const prefix = uniqueQueuePrefix();
    const port = await freePort();
    const host = background(process.execPath, ['server.mjs'], {
      cwd: app,
      env: {
        PORT: String(port),
        DATABASE_URL: database.url,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: prefix,
        SITE_ID: 'hono_host',
        LOG_LEVEL: 'warn',
      },
    });
    const browser = await launchChromium({ visitor: true });
    try {
      const origin = `http://shop.example:${port}`;
      await waitFor(
        async () => {
          if (host.child.exitCode !== null) throw new Error(`the host app exited:\n${host.output()}`);
          return (await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined))?.ok ? true : undefined;
        },
        60_000,
        'the host app to serve its page',
      );
      const context = await browser.newContext();
      const page = await context.newPage();
      const requests: string[] = [];
      // Every request the page makes, beacons included (Playwright's own events miss those).
      const devtools = await context.newCDPSession(page);
      devtools.on('Network.requestWillBeSent', (sent) => void requests.push(sent.request.url));
      await devtools.send('Network.enable');
      await page.goto(`${origin}/`);
      await page.waitForFunction(() => typeof (window as { tally?: unknown }).tally === 'function');
      await page.click('#signup');
      // Hidden, the tracker flushes with sendBeacon (then the page closes).
      await page.evaluate(() => {
        Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
        document.dispatchEvent(new Event('visibilitychange'));
      });
      await waitFor(
        async () => (requests.some((url) => url.endsWith('/_t/api/events')) ? true : undefined),
        10_000,
        'the tracker to send its batch',
      );
      await page.close({ runBeforeUnload: true });

      const today = new Date().toISOString().slice(0, 10);
      const stats = await waitFor(
        async () => {
          const response = await fetch(`http://127.0.0.1:${port}/_t/api/stats?siteId=hono_host&date=${today}`);
          const body = response.ok
            ? ((await response.json()) as { totalViews: number; uniqueUsers: number })
            : undefined;
          return body && body.totalViews >= 2 ? body : undefined;
        },
        30_000,
        'the page view and the signup to be counted',
      );
      expect(stats).toMatchObject({ totalViews: 2, uniqueUsers: 1 });

      // The dashboard, mounted under the host's path too, shows the visit (the range ends today).
      const dashboard = await context.newPage();
      const dashboardDevtools = await context.newCDPSession(dashboard);
      dashboardDevtools.on('Network.requestWillBeSent', (sent) => void requests.push(sent.request.url));
      await dashboardDevtools.send('Network.enable');
      await dashboard.goto(`${origin}/_t/dashboard/hono_host`);
      await dashboard.locator('#dashboard[aria-busy="false"][data-rendered]').waitFor();
      const pageviews = await dashboard.locator('[data-metric="pageviews"] .value').getAttribute('data-value');
      expect(Number(pageviews)).toBe(1);

      expect(requests.filter((url) => !url.startsWith(`${origin}/`))).toEqual([]);
      expect(requests).toEqual(
        expect.arrayContaining([`${origin}/_t/s.js`, `${origin}/_t/api/events`, `${origin}/_t/api/query`]),
      );
    } finally {
      await browser.close();
      expect(await host.stop(30_000), host.output()).toBe(0);
      await deleteQueueKeys(prefix);
      await database.drop();
    }
  });
});
