/**
 * The API docs as a person uses them, in Chromium (Debian's, driven by
 * playwright-core): behind basic auth the page loads with no error, and
 * "Authorize" + "Try it out" sends the stats key, so a server with
 * `STATS_API_KEYS` answers from the docs page.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './chromium.js';
import { startTestStack, type TestStack } from './support.js';

const KEY = 'docs-test-key';

let stack: TestStack;
let server: ReturnType<typeof serve>;
let origin: string;
let browser: Browser;

beforeAll(async () => {
  stack = await startTestStack({
    worker: false,
    env: { STATS_API_KEYS: KEY, SWAGGER_USER: 'docs', SWAGGER_PASSWORD: 's3cret' },
  });
  server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const started = serve({ fetch: stack.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(started));
  });
  origin = `http://127.0.0.1:${((server as unknown as Server).address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  await stack?.close();
});

describe('API docs page in Chromium', () => {
  it('behind basic auth, sends the stats key from "Authorize" with "Try it out"', async () => {
    const context = await browser.newContext({ httpCredentials: { username: 'docs', password: 's3cret' } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    const foreign: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(origin)) foreign.push(request.url());
    });

    await page.goto(`${origin}/api`);
    await page.locator('.opblock-tag-section').first().waitFor();
    // Swagger UI shows validation errors of the document in an error panel.
    expect(await page.locator('.errors-wrapper').count()).toBe(0);

    await page.locator('button.authorize').first().click();
    await page.locator('.modal-ux input[type=text], .modal-ux input[type=password]').first().fill(KEY);
    await page.locator('.modal-ux button.authorize').first().click();
    await page.locator('.modal-ux button.btn-done, .modal-ux .close-modal').first().click();

    const operation = page.locator('#operations-stats-get_api_stats');
    await operation.locator('.opblock-summary').click();
    await operation.locator('button.try-out__btn').click();
    await operation.locator('tr[data-param-name="siteId"] input').fill('nobody');
    await operation.locator('tr[data-param-name="date"] input').fill('2024-11-14');
    const [request] = await Promise.all([
      page.waitForRequest((candidate) => candidate.url().includes('/api/stats?')),
      operation.locator('button.execute').click(),
    ]);
    const response = await request.response();
    expect(request.headers().authorization).toBe(`Bearer ${KEY}`);
    // With the key the stats route answers (no data: 404), not 401.
    expect(response?.status()).toBe(404);
    expect(foreign).toEqual([]);
    expect(problems.filter((text) => !text.includes('404'))).toEqual([]);
    await context.close();
  });
});
