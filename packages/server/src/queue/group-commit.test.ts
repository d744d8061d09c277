import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pageView, postJson, startTestStack, type TestStack } from '../../test/support.js';
import { createGroupCommit, GroupCommitFullError } from './group-commit.js';

describe('createGroupCommit', () => {
  it('writes what arrives in one turn as one group, and settles each caller with it', async () => {
    const writes: number[][] = [];
    const commit = createGroupCommit<number>({
      write: async (items) => void writes.push(items),
      maxItems: 100,
      maxInFlight: 1,
    });
    await Promise.all([commit.add([1]), commit.add([2, 3]), commit.add([4])]);
    expect(writes).toEqual([[1, 2, 3, 4]]);
  });

  it('gathers while a write is in flight, never splits a caller, and seals at maxItems', async () => {
    const writes: number[][] = [];
    let release: () => void = () => {};
    const commit = createGroupCommit<number>({
      write: (items) => {
        writes.push(items);
        return writes.length === 1 ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
      },
      maxItems: 5,
      maxInFlight: 1,
    });
    const first = commit.add([0]);
    await new Promise((resolve) => setImmediate(resolve));
    const rest = [commit.add([1, 2]), commit.add([3, 4]), commit.add([5, 6, 7]), commit.add([8])];
    expect(commit.pending).toBe(9); // the write under way counts until it is done
    release();
    await Promise.all([first, ...rest]);
    expect(writes).toEqual([[0], [1, 2, 3, 4], [5, 6, 7, 8]]);
  });

  it('refuses at once past maxPending, so a hung write cannot grow memory without bound', async () => {
    const releases: (() => void)[] = [];
    const commit = createGroupCommit<number>({
      write: () => new Promise<void>((resolve) => releases.push(resolve)),
      maxItems: 2,
      maxInFlight: 1,
      maxPending: 5,
    });
    const waiting = [commit.add([1, 2]), commit.add([3, 4]), commit.add([5])];
    await expect(commit.add([6])).rejects.toThrow(GroupCommitFullError);
    expect(commit.pending).toBe(5);
    for (let write = 1; write <= 3; write++) {
      await vi.waitFor(() => expect(releases).toHaveLength(write));
      releases[write - 1]?.();
    }
    await Promise.all(waiting);
    expect(commit.pending).toBe(0);
    const after = commit.add([6]);
    await vi.waitFor(() => expect(releases).toHaveLength(4));
    releases[3]?.();
    await expect(after).resolves.toBeUndefined();
  });

  it('rejects every caller of a failed write, and only those', async () => {
    let calls = 0;
    const commit = createGroupCommit<number>({
      write: async () => {
        calls += 1;
        if (calls === 1) throw new Error('redis down');
      },
      maxItems: 10,
      maxInFlight: 1,
    });
    const failed = [commit.add([1]), commit.add([2])];
    await expect(Promise.all(failed)).rejects.toThrow('redis down');
    await expect(failed[1]).rejects.toThrow('redis down');
    await expect(commit.add([3])).resolves.toBeUndefined();
  });
});

describe('group commit on the BullMQ queue', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('200 concurrent single-event requests become a few jobs holding each event exactly once', async () => {
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => postJson(stack.app, '/api/event', pageView({ path: `/g${i}` }))),
    );
    expect(responses.every((response) => response.status === 202)).toBe(true);
    const jobs = await stack.queue.queue.getJobs(['waiting']);
    expect(jobs.length).toBeLessThan(50);
    const paths = jobs.flatMap((job) => job.data.events.map((event) => event.path)).sort();
    expect(paths).toEqual(Array.from({ length: 200 }, (_, i) => `/g${i}`).sort());
  });
});

describe('createGroupCommit with linger', () => {
  it('waits for more callers up to lingerMs, but no longer than maxCallers', async () => {
    const writes: number[][] = [];
    const commit = createGroupCommit<number>({
      write: async (items) => void writes.push(items),
      maxItems: 100,
      maxInFlight: 1,
      lingerMs: 1_000,
      maxCallers: 3,
    });
    const started = Date.now();
    const first = commit.add([1]);
    setTimeout(() => void commit.add([2]), 20);
    setTimeout(() => void commit.add([3]), 40);
    await first;
    // The third caller sealed the group long before the linger ran out.
    expect(Date.now() - started).toBeLessThan(500);
    expect(writes).toEqual([[1, 2, 3]]);
  });

  it('writes a lone caller once the linger runs out', async () => {
    const writes: number[][] = [];
    const commit = createGroupCommit<number>({
      write: async (items) => void writes.push(items),
      maxItems: 100,
      maxInFlight: 1,
      lingerMs: 30,
    });
    const started = Date.now();
    await commit.add([7]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(writes).toEqual([[7]]);
  });
});
