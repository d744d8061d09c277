/**
 * Group commit: callers that arrive together share one write. Items gather for
 * the rest of the current event-loop turn, and for as long as `maxInFlight`
 * writes are already under way; then they go out as one group. Each caller's
 * promise settles only when the write carrying its items does. Under light
 * load this adds no waiting; under heavy load groups grow with the round trip,
 * up to `maxItems`. Used twice: ingestion requests share a queue job
 * (`queue/events-queue.ts`), and concurrent jobs share a fold transaction
 * (`worker/processor.ts`).
 */
export interface GroupCommitOptions<T> {
  /** Writes one group; resolves once it is durable. */
  write(items: T[]): Promise<void>;
  /** A group is sealed once it holds this many items (one caller's items are never split). */
  maxItems: number;
  /** How many items one item counts as (default 1): a job's encoded events count as its events. */
  weight?: (item: T) => number;
  /** Writes allowed in flight at once. */
  maxInFlight: number;
  /**
   * How long a group that is not full may wait for more items before it is
   * written (0: only the rest of the event-loop turn). Trades latency for
   * fewer, larger writes.
   */
  lingerMs?: number;
  /**
   * A group is also sealed once this many callers joined it: when no more
   * callers can come (a worker with all its job slots waiting), lingering
   * only wastes time. A function is asked each time a caller joins.
   */
  maxCallers?: number | (() => number);
  /**
   * Items accepted but not yet written, at most: past it `add` rejects at once
   * (`GroupCommitFullError`), so a write that hangs cannot make memory grow
   * without bound.
   */
  maxPending?: number;
}

export class GroupCommitFullError extends Error {
  override name = 'GroupCommitFullError';
}

interface Group<T> {
  items: T[];
  /** The items' total weight. */
  weight: number;
  waiters: { resolve(): void; reject(error: unknown): void }[];
}

export function createGroupCommit<T>({
  write,
  maxItems,
  weight = () => 1,
  maxInFlight,
  lingerMs = 0,
  maxCallers = Number.POSITIVE_INFINITY,
  maxPending = Number.POSITIVE_INFINITY,
}: GroupCommitOptions<T>) {
  const sealed: Group<T>[] = [];
  let open: Group<T> | undefined;
  let inFlight = 0;
  let pumpScheduled = false;
  let lingerTimer: NodeJS.Timeout | undefined;
  /** Items in open and sealed groups, and in writes under way. */
  let pending = 0;

  function seal() {
    if (open) sealed.push(open);
    open = undefined;
  }

  function pump() {
    pumpScheduled = false;
    while (inFlight < maxInFlight) {
      if (sealed.length === 0) seal();
      const group = sealed.shift();
      if (!group) return;
      inFlight += 1;
      const written = group.weight;
      write(group.items)
        .then(
          () => {
            for (const waiter of group.waiters) waiter.resolve();
          },
          (error: unknown) => {
            for (const waiter of group.waiters) waiter.reject(error);
          },
        )
        .finally(() => {
          inFlight -= 1;
          pending -= written;
          schedulePump();
        });
    }
  }

  function schedulePump() {
    if (sealed.length === 0 && !open) return;
    if (sealed.length > 0 && lingerTimer) {
      // A group filled up while another waited out its linger: no reason to wait further.
      clearTimeout(lingerTimer);
      lingerTimer = undefined;
      pumpScheduled = false;
    }
    if (pumpScheduled) return;
    pumpScheduled = true;
    if (lingerMs > 0 && sealed.length === 0) {
      lingerTimer = setTimeout(() => {
        lingerTimer = undefined;
        pump();
      }, lingerMs);
    } else {
      setImmediate(pump);
    }
  }

  return {
    /** Adds `items`, kept together in one group; resolves when that group is written. */
    add(items: T[]): Promise<void> {
      let added = 0;
      for (const item of items) added += weight(item);
      if (pending + added > maxPending && pending > 0) {
        return Promise.reject(new GroupCommitFullError(`${pending} items already wait to be written`));
      }
      pending += added;
      return new Promise<void>((resolve, reject) => {
        if (open && open.weight + added > maxItems) seal();
        open ??= { items: [], weight: 0, waiters: [] };
        for (const item of items) open.items.push(item);
        open.weight += added;
        open.waiters.push({ resolve, reject });
        const callers = typeof maxCallers === 'function' ? maxCallers() : maxCallers;
        if (open.weight >= maxItems || open.waiters.length >= callers) seal();
        schedulePump();
      });
    },
    /** Items accepted but not yet written (writes under way included), for shutdown and metrics. */
    get pending() {
      return pending;
    },
  };
}
