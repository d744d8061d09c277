/**
 * Ranking a rollup breakdown by `visitors` without merging every value's
 * sketches (issue #13). Each answer row's visitors lie between bounds read
 * from its rollup rows' own counts (`rollupVisitorBounds`): at least its
 * largest row's, at most their sum. The rows with the largest sums are merged
 * first; the `offset + limit`-th largest visitors among them (or among the
 * lower bounds) is a threshold τ that the page's last row reaches, so a row
 * whose sum stays below τ cannot be on the page. Rows whose sum reaches τ
 * less `MARGIN` are merged in rounds (largest sums first, each round as large
 * as all before it, τ rising) until none is left; they are ordered as before,
 * and the page is the one merging every row gives.
 *
 * The margin covers the estimator: a merged estimate can exceed the exact
 * count a sum is made of (standard error 0.81%), and a week's or month's count is
 * itself an estimate; 4% is five standard errors.
 */
import type { Database } from '../db/client.js';
import type { QueryPlan } from './plan.js';
import { SPARSE_LIMIT } from './sketches.js';
import { type AggregatedRow, aggregateRollups, type DayWindow, rollupVisitorBounds } from './sql.js';

export const MARGIN = 0.04;

export interface Bounds {
  lower: number;
  upper: number;
}

const keyOf = (dimensions: (string | number)[]) => JSON.stringify(dimensions);

/** The `n`-th largest of some numbers (1-based), or 0 when there are fewer. */
function nthLargest(values: Iterable<number>, n: number): number {
  return [...values].sort((a, b) => b - a)[n - 1] ?? 0;
}

/** The `n` keys whose sums are largest (ties by key, so one answer). */
export function largestSums(bounds: Map<string, Bounds>, n: number): string[] {
  return [...bounds]
    .sort(([a, x], [b, y]) => y.upper - x.upper || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, n)
    .map(([key]) => key);
}

/**
 * The keys still to merge so that the `n` rows with the most visitors are
 * among the merged ones, given the visitors of the rows merged so far.
 */
export function stillPossible(bounds: Map<string, Bounds>, merged: Map<string, number>, n: number): string[] {
  const byLower = nthLargest(
    [...bounds.values()].map((bound) => bound.lower),
    n,
  );
  const threshold = Math.max(nthLargest(merged.values(), n), byLower * (1 - MARGIN)) * (1 - MARGIN);
  return [...bounds].filter(([key, bound]) => !merged.has(key) && bound.upper >= threshold).map(([key]) => key);
}

/**
 * Sets `visitors` on the rows that can reach the page of a breakdown ordered
 * by visitors first (descending), and answers those rows (every row when it
 * cannot prune) and whether any count merged was estimated. `rows` hold every
 * answer row with its counters.
 */
export async function rowsByVisitors(
  db: Database,
  plan: QueryPlan,
  dimension: string,
  window: DayWindow,
  rows: AggregatedRow[],
  /** The bounds, when the caller read them already (beside the counters). */
  boundsRead?: Promise<Awaited<ReturnType<typeof rollupVisitorBounds>>>,
): Promise<{ rows: AggregatedRow[]; estimated: boolean; merged: number }> {
  const valueIndex = plan.dimensions.findIndex((d) => d.level !== 'time');
  const byKey = new Map(rows.map((row) => [keyOf(row.dimensions), row]));
  const merged = new Map<string, number>();
  let estimated = false;
  const merge = async (values: string[] | null, unions: boolean) => {
    // The rows' counters are known: only visitors are read.
    const answer = await aggregateRollups(db, plan, dimension, window, {
      visitors: true,
      values,
      unions,
      visitorsOnly: true,
    });
    estimated ||= answer.visitorsEstimated;
    for (const row of answer.rows) {
      const key = keyOf(row.dimensions);
      const target = byKey.get(key);
      if (target === undefined) continue;
      target.counts.visitors = row.counts.visitors;
      merged.set(key, row.counts.visitors);
    }
  };
  const valuesOf = (keys: string[]) => [
    ...new Set(keys.map((key) => (JSON.parse(key) as (string | number)[])[valueIndex] as string)),
  ];

  const n = plan.offset + plan.limit;
  const read = await (boundsRead ?? rollupVisitorBounds(db, plan, dimension, window));
  // Rows of no rollup row (a time series' zero-filled buckets) have no visitors: they never outrank one that has.
  const bounds = new Map<string, Bounds>();
  for (const bound of read?.rows ?? []) {
    const key = keyOf(bound.dimensions);
    if (byKey.has(key)) bounds.set(key, bound);
  }
  if (read === null || bounds.size <= n) {
    await merge(null, false);
    return { rows, estimated, merged: merged.size };
  }
  // Rounds of the largest sums not merged yet, each as large as all before it, until every row that can still
  // reach the page is merged: a row whose sum is large but whose visitors come back day after day raises the
  // threshold little, the next round's rows more.
  let more = [...bounds.keys()];
  while (more.length > 0) {
    const round = Math.max(n, merged.size);
    const next =
      more.length <= 2 * round
        ? more
        : largestSums(new Map(more.map((key) => [key, bounds.get(key) as Bounds])), round);
    await merge(valuesOf(next), read.sketched);
    for (const key of next) if (!merged.has(key)) merged.set(key, 0);
    more = stillPossible(bounds, merged, n);
  }
  // The answer says `visitors` is approximate when any row's count is; a row left out may be one, but only
  // beyond the sparse limit, and then a merged row is dense too. Unless, at the edges, none is: merge those.
  if (!estimated && read.sketched) {
    const maybe = [...bounds].filter(([key, b]) => !merged.has(key) && b.upper >= SPARSE_LIMIT * (1 - MARGIN));
    if (maybe.length > 0) await merge(valuesOf(maybe.map(([key]) => key)), true);
  }
  return { rows: rows.filter((row) => merged.has(keyOf(row.dimensions))), estimated, merged: merged.size };
}
