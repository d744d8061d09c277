/**
 * Each example run the way its README says, against a real Tally server that this file starts on a free
 * port (PostgreSQL with a database of its own, Redis with a queue prefix of its own, a stats key), and
 * Chromium (Debian's, driven by playwright-core) clicking through the pages. The counts are read back
 * with the stats-query example itself.
 */
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP_UA, launchChromium } from '../packages/server/test/chromium.js';
import { freePort, startServerProcess, stopAll, waitFor } from '../packages/server/test/processes.js';
import {
  createTestDatabase,
  deleteQueueKeys,
  TEST_REDIS_URL,
  type TestDatabase,
  uniqueQueuePrefix,
} from '../packages/server/test/support.js';
import { type Background, background, ROOT, run } from './helpers.js';

const STATS_KEY = 'examples-test-key';
const STATS_QUERY = join(ROOT, 'examples', 'stats-query', 'index.mjs');

let database: TestDatabase;
let prefix: string;
let tallyUrl: string;
let scratch: string;
let browser: Browser;

beforeAll(async () => {
  database = await createTestDatabase();
  prefix = uniqueQueuePrefix();
  scratch = await mkdtemp(join(tmpdir(), 'tally-examples-'));
  const port = await freePort();
  await startServerProcess({
    cwd: scratch,
    env: {
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      PORT: String(port),
      STATS_API_KEYS: STATS_KEY,
      LOG_LEVEL: 'warn',
    },
    healthPort: port,
  });
  tallyUrl = `http://127.0.0.1:${port}`;
  browser = await launchChromium({ visitor: true });
});

afterAll(async () => {
  await browser?.close();
  await stopAll();
  if (prefix) await deleteQueueKeys(prefix);
  await database?.drop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** `node examples/stats-query/index.mjs …` with the given environment. */
function statsQuery(args: string[], env: Record<string, string>) {
  return run(process.execPath, [STATS_QUERY, ...args], { cwd: ROOT, env, timeoutMs: 20_000 });
}

/** Waits until the stats-query example prints `line` for `siteId` today (UTC). */
async function waitForStats(siteId: string, line: string): Promise<string> {
  let last = '';
  try {
    return await waitFor(
      async () => {
        const result = await statsQuery([siteId], { TALLY_URL: tallyUrl, TALLY_API_KEY: STATS_KEY });
        last = result.stdout + result.stderr;
        return result.code === 0 && result.stdout.includes(line) ? result.stdout : undefined;
      },
      30_000,
      `stats of ${siteId}`,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last answer:\n${last}`);
  }
}

/** Starts a dev server as its README says and waits until `url` answers. */
async function startDevServer(command: string, args: string[], cwd: string, env: Record<string, string>, url: string) {
  const dev = background(command, args, { cwd, env });
  await waitFor(
    async () => {
      if (dev.child.exitCode !== null) throw new Error(`dev server exited:\n${dev.output()}`);
      return (await fetch(url)).ok ? true : undefined;
    },
    60_000,
    `${command} ${args.join(' ')} to serve ${url}`,
  ).catch(async (error) => {
    await dev.stop();
    throw new Error(`${(error as Error).message}\n${dev.output()}`);
  });
  return dev;
}

async function clickLink(page: Page, name: string, heading: string) {
  await page.getByRole('link', { name }).click();
  await page.getByRole('heading', { name: heading }).waitFor();
}

describe('examples/stats-query', () => {
  it('says in one line, without a stack, that no server answers', async () => {
    const result = await statsQuery(['example_site'], { TALLY_URL: `http://127.0.0.1:${await freePort()}` });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^No Tally server answers at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });

  it('sends TALLY_API_KEY as a bearer key, and finds a local server by PORT', async () => {
    const refused = await statsQuery(['example_site', '2024-11-14'], { TALLY_URL: tallyUrl });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^401: Missing or invalid API key \(set TALLY_API_KEY/);
    const port = new URL(tallyUrl).port;
    const empty = await statsQuery(['example_site', '2024-11-14'], { PORT: port, TALLY_API_KEY: STATS_KEY });
    expect(empty.stderr.trim()).toBe('404: No stats found for site example_site on 2024-11-14');
  });
});

describe('examples/script-tag', () => {
  let dev: Background | undefined;
  afterAll(async () => {
    await dev?.stop();
  });

  it('counts a visit under another host name through its dev server', async () => {
    const port = await freePort();
    // The README's command, with a free port instead of 8080.
    dev = await startDevServer(
      'npx',
      ['vite', 'examples/script-tag', '--port', String(port), '--strictPort'],
      ROOT,
      { TALLY_URL: tallyUrl },
      `http://127.0.0.1:${port}/`,
    );
    const page = await browser.newPage();
    expect(await page.evaluate(() => navigator.webdriver)).toBe(false);
    await page.goto(`http://shop.example:${port}/`);
    await page.getByRole('heading', { name: 'Home' }).waitFor();
    await page.waitForFunction(() => typeof (window as { tally?: { q?: unknown } }).tally === 'function');
    await clickLink(page, 'Pricing', 'pricing');
    await clickLink(page, 'Docs', 'docs');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.close({ runBeforeUnload: true });

    const stats = await waitForStats('example_site', 'example_site on');
    expect(stats).toContain(`example_site on ${new Date().toISOString().slice(0, 10)}: 4 events, 1 unique visitors`);
    expect(stats).toMatch(/'\/docs'\s*│\s*2 /); // its page view and the signup event
    expect(stats).toMatch(/'\/pricing'\s*│\s*1 /);
    expect(stats).toMatch(/'\/'\s*│\s*1 /);
  });
});

describe('examples/spa', () => {
  let dev: Background | undefined;
  afterAll(async () => {
    await dev?.stop();
  });

  it('installs without leaving a lockfile and counts page views and a custom event from its dev server', async () => {
    // The example as a fresh clone has it (its own files, next to a built packages/sdk), outside this
    // checkout so that `npm install` there touches nothing here.
    const copy = join(scratch, 'clone');
    const skip = (path: string) => !/[/\\](node_modules|dist|src[/\\].*\.test\.ts)$/.test(path);
    await cp(join(ROOT, 'examples', 'spa'), join(copy, 'examples', 'spa'), { recursive: true, filter: skip });
    for (const file of ['package.json', 'README.md', 'dist']) {
      await cp(join(ROOT, 'packages', 'sdk', file), join(copy, 'packages', 'sdk', file), { recursive: true });
    }
    const spa = join(copy, 'examples', 'spa');
    const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: spa });
    expect(install.code, install.stderr).toBe(0);
    expect(await readdir(spa)).not.toContain('package-lock.json');

    const port = await freePort();
    dev = await startDevServer(
      'npm',
      ['run', 'dev', '--', '--port', String(port), '--strictPort'],
      spa,
      { VITE_TALLY_API: tallyUrl, VITE_TALLY_SITE_ID: 'spa_example' },
      `http://127.0.0.1:${port}/src/main.ts`,
    );
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.getByRole('heading', { name: 'Home' }).waitFor();
    await clickLink(page, 'Products', 'Products');
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.close({ runBeforeUnload: true });

    const stats = await waitForStats('spa_example', 'spa_example on');
    expect(stats).toContain(`spa_example on ${new Date().toISOString().slice(0, 10)}: 3 events, 1 unique visitors`);
    expect(stats).toMatch(/'\/products'\s*│\s*2 /); // the page view and the add_to_cart event on it
  });
});

describe('examples/nextjs-route', () => {
  it('serves the tracker, takes events and answers stats through the route handler, as Next.js calls it', async () => {
    const queuePrefix = uniqueQueuePrefix();
    Object.assign(process.env, {
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: queuePrefix,
      STATS_API_KEYS: STATS_KEY,
    });
    const route = await import(
      pathToFileURL(join(ROOT, 'examples', 'nextjs-route', 'app', '%5Ft', '[...path]', 'route.ts')).href
    );
    const { getTally } = await import('../examples/nextjs-route/lib/tally.js');
    const origin = 'https://shop.example';
    try {
      const script = (await route.GET(new Request(`${origin}/_t/s.js`))) as Response;
      expect(script.status).toBe(200);
      expect(await script.text()).toContain('/api/events');

      const event = { siteId: 'next_site', eventType: 'page_view', path: '/', timestamp: new Date().toISOString() };
      const posted = (await route.POST(
        new Request(`${origin}/_t/api/events`, {
          method: 'POST',
          headers: { 'Content-Type': 'text/plain', 'User-Agent': DESKTOP_UA, Origin: origin },
          body: JSON.stringify({ events: [event] }),
        }),
      )) as Response;
      expect(posted.status).toBe(202);

      const today = event.timestamp.slice(0, 10);
      const stats = await waitFor(
        async () => {
          const answer = (await route.GET(
            new Request(`${origin}/_t/api/stats?siteId=next_site&date=${today}`, {
              headers: { Authorization: `Bearer ${STATS_KEY}` },
            }),
          )) as Response;
          return answer.status === 200 ? ((await answer.json()) as { totalViews: number }) : undefined;
        },
        30_000,
        'the Next.js route to count the event',
      );
      expect(stats.totalViews).toBe(1);
    } finally {
      await (await getTally()).close();
      await deleteQueueKeys(queuePrefix);
      for (const name of ['DATABASE_URL', 'REDIS_URL', 'QUEUE_PREFIX', 'STATS_API_KEYS']) delete process.env[name];
    }
  });
});
