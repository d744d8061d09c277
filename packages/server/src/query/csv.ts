/**
 * The query answer as CSV (SPEC §12, `Accept: text/csv` or `"format": "csv"`):
 * a header line, then one line per row, RFC 4180 (CRLF, fields quoted when they
 * hold a comma, quote or line break). Dimension values are text from visitors'
 * browsers, so one that a spreadsheet would run as a formula (starting with
 * = + - @ tab or CR) is prefixed with `'` (OWASP's CSV injection advice).
 * Numbers are written as they are: a negative change stays a number.
 */
import type { QueryMeta, QueryResultRow } from '@tally/shared';

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One CSV field: text defused and quoted as needed, numbers as they are, `null` empty. */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const line = (fields: (string | number | null)[]) => `${fields.map(csvField).join(',')}\r\n`;

/** Column names: the dimensions, the metrics, then per metric its comparison value and change when compared. */
export function csvHeader(meta: Pick<QueryMeta, 'dimensions' | 'metrics' | 'comparison'>): string[] {
  const columns = [...meta.dimensions, ...meta.metrics];
  if (meta.comparison !== undefined) {
    columns.push(...meta.metrics.map((metric) => `${metric} (comparison)`));
    columns.push(...meta.metrics.map((metric) => `${metric} (change %)`));
  }
  return columns;
}

function rowFields(row: QueryResultRow, compared: boolean, metricCount: number): (string | number | null)[] {
  const fields: (string | number | null)[] = [...row.dimensions, ...row.metrics];
  if (compared) {
    const empty = Array.from({ length: metricCount }, () => null);
    fields.push(...(row.comparison?.metrics ?? empty), ...(row.comparison?.change ?? empty));
  }
  return fields;
}

/** The CSV text line by line, header first; rows may arrive as they are read (an async iterable). */
export async function* csvLines(
  meta: Pick<QueryMeta, 'dimensions' | 'metrics' | 'comparison'>,
  rows: Iterable<QueryResultRow> | AsyncIterable<QueryResultRow>,
): AsyncGenerator<string> {
  const compared = meta.comparison !== undefined;
  yield line(csvHeader(meta));
  for await (const row of rows) yield line(rowFields(row, compared, meta.metrics.length));
}

/**
 * A byte stream of the CSV for a `Response` body, pulling rows only as the
 * client reads, so a large answer is never held as one string.
 */
export function csvStream(
  meta: Pick<QueryMeta, 'dimensions' | 'metrics' | 'comparison'>,
  rows: Iterable<QueryResultRow> | AsyncIterable<QueryResultRow>,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const lines = csvLines(meta, rows);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await lines.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
    async cancel() {
      await lines.return(undefined);
    },
  });
}
