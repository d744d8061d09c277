import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf, pageView, postJson, startTestStack, type TestStack } from '../../test/support.js';

const VISITOR = '99999999-8888-4777-8666-555555555555';

describe('POST /api/events', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('queues a whole batch as one job', async () => {
    const before = (await stack.queue.counts()).waiting;
    const events = Array.from({ length: 100 }, (_, i) => pageView({ path: `/p${i}`, visitorId: VISITOR }));
    const response = await postJson(stack.app, '/api/events', { events });
    expect(response.status).toBe(202);
    const body = await jsonOf(response);
    expect(body).toMatchObject({ success: true, accepted: 100, rejected: [], visitorId: VISITOR });
    expect(body.eventIds).toHaveLength(100);
    expect((await stack.queue.counts()).waiting).toBe(before + 1);
  });

  it('queues the valid events beside invalid ones and says which were rejected', async () => {
    const response = await postJson(stack.app, '/api/events', {
      events: [pageView({ path: '/ok' }), { ...pageView(), siteId: '' }, 'junk', pageView({ path: '/ok2' })],
    });
    expect(response.status).toBe(202);
    const body = await jsonOf(response);
    expect(body).toMatchObject({
      accepted: 2,
      rejected: [
        { index: 1, message: ['siteId should not be empty'] },
        { index: 2, message: ['event must be a JSON object'] },
      ],
    });
    const jobs = await stack.queue.queue.getJobs(['waiting']);
    const queued = jobs
      .flatMap((job) => job.data.events)
      .filter((event) => (body.eventIds as string[]).includes(event.eventId));
    expect(queued.map((event) => event.path).sort()).toEqual(['/ok', '/ok2']);
    // Events without a visitorId share the request's visitor.
    expect(new Set(queued.map((event) => event.visitorId))).toEqual(new Set([body.visitorId]));
  });

  it('400 when nothing in the batch is valid, naming index and field', async () => {
    const before = (await stack.queue.counts()).waiting;
    const response = await postJson(stack.app, '/api/events', { events: [{ ...pageView(), path: '' }] });
    expect(response.status).toBe(400);
    expect(await jsonOf(response)).toEqual({
      statusCode: 400,
      message: ['events.0.path should not be empty'],
      error: 'Bad Request',
    });
    expect((await stack.queue.counts()).waiting).toBe(before);
  });

  it.each([
    [{ events: [] }, 'events should not be empty'],
    [{ events: Array(101).fill(pageView()) }, 'events must contain at most 100 events'],
    [{ event: pageView() }, 'events must be an array'],
    [[pageView()], 'body must be a JSON object'],
  ])('400 for an invalid envelope %#', async (body, message) => {
    const response = await postJson(stack.app, '/api/events', body);
    expect(response.status).toBe(400);
    expect((await jsonOf(response)).message).toContain(message);
  });

  it('sets the visitor cookie to the batch visitor when none came', async () => {
    const response = await postJson(stack.app, '/api/events', { events: [pageView({ visitorId: VISITOR })] });
    expect(response.headers.get('set-cookie')).toContain(`visitor_id=${VISITOR};`);
  });
});
