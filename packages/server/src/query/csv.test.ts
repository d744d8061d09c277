import type { QueryMeta, QueryResultRow } from '@tally/shared';
import { describe, expect, test } from 'vitest';
import { csvField, csvHeader, csvLines, csvStream } from './csv.js';

const meta = { dimensions: ['source'], metrics: ['visitors', 'bounceRate'] } satisfies Partial<QueryMeta>;
const compared = { ...meta, comparison: { dateRange: ['2024-02-01', '2024-02-07'] as [string, string] } };

async function text(lines: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const chunk of lines) out += chunk;
  return out;
}

describe('fields', () => {
  test.each<[string | number | null, string]>([
    ['Google', 'Google'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['=HYPERLINK("http://x")', '"\'=HYPERLINK(""http://x"")"'],
    ['+1', "'+1"],
    ['-2', "'-2"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tcmd', "'\tcmd"],
    ['\rcmd', '"\'\rcmd"'],
    ['/blog?a=1', '/blog?a=1'],
    [-7.5, '-7.5'],
    [1204, '1204'],
    [null, ''],
    ['', ''],
  ])('%j → %s', (value, expected) => {
    expect(csvField(value)).toBe(expected);
  });
});

describe('rows', () => {
  test('header: dimensions then metrics; comparison and change columns when compared', () => {
    expect(csvHeader(meta)).toEqual(['source', 'visitors', 'bounceRate']);
    expect(csvHeader(compared)).toEqual([
      'source',
      'visitors',
      'bounceRate',
      'visitors (comparison)',
      'bounceRate (comparison)',
      'visitors (change %)',
      'bounceRate (change %)',
    ]);
  });

  test('a compared answer, CRLF line ends, unknown values empty', async () => {
    const rows: QueryResultRow[] = [
      { dimensions: ['Google'], metrics: [1204, 41.2], comparison: { metrics: [1301, 40], change: [-7.5, 3] } },
      { dimensions: [null], metrics: [3, 100], comparison: { metrics: [0, 0], change: [null, null] } },
    ];
    expect(await text(csvLines(compared, rows))).toBe(
      'source,visitors,bounceRate,visitors (comparison),bounceRate (comparison),visitors (change %),bounceRate (change %)\r\n' +
        'Google,1204,41.2,1301,40,-7.5,3\r\n' +
        ',3,100,0,0,,\r\n',
    );
  });

  test('no rows is the header alone', async () => {
    expect(await text(csvLines(meta, []))).toBe('source,visitors,bounceRate\r\n');
  });

  test('streamed: rows are pulled as the reader reads, not all at once', async () => {
    let produced = 0;
    async function* many(): AsyncGenerator<QueryResultRow> {
      for (let i = 0; i < 100_000; i++) {
        produced++;
        yield { dimensions: [`/page/${i}`], metrics: [i, 0] };
      }
    }
    const reader = csvStream(meta, many()).getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('source,visitors,bounceRate\r\n');
    const second = await reader.read();
    expect(new TextDecoder().decode(second.value)).toBe('/page/0,0,0\r\n');
    expect(produced).toBeLessThan(10);
    await reader.cancel();
  });

  test('streamed through a Response, the whole text arrives', async () => {
    const rows = Array.from({ length: 1000 }, (_, i): QueryResultRow => ({ dimensions: [`=${i}`], metrics: [i, 1] }));
    const body = await new Response(csvStream(meta, rows)).text();
    const lines = body.split('\r\n');
    expect(lines).toHaveLength(1002); // header, 1000 rows, and the empty string after the last CRLF
    expect(lines[1]).toBe("'=0,0,1");
    expect(lines[1000]).toBe("'=999,999,1");
  });
});
