/**
 * Writes a tiny MaxMind DB (the documented MMDB v2 format) for tests: an IPv4
 * search tree with 24-bit records over the given networks, a data section of
 * their records, and the metadata. Enough for `maxmind` to open and read; no
 * real data is downloaded.
 */

type Value = string | number | Value[] | { [key: string]: Value };

function control(type: number, size: number): Buffer {
  const head =
    type <= 7 ? Buffer.from([(type << 5) | Math.min(size, 28)]) : Buffer.from([Math.min(size, 28), type - 7]);
  if (size < 29) return head;
  if (size < 29 + 256)
    return Buffer.concat([Buffer.from([head[0] as number | 29]), head.subarray(1), Buffer.from([size - 29])]);
  throw new Error('field too large for this writer');
}

function unsigned(type: number, value: number | bigint): Buffer {
  let n = BigInt(value);
  const bytes: number[] = [];
  while (n > 0n) {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  const typed = type <= 7 ? Buffer.from([(type << 5) | bytes.length]) : Buffer.from([bytes.length, type - 7]);
  return Buffer.concat([typed, Buffer.from(bytes)]);
}

function encode(value: Value, integerType = 6): Buffer {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([control(2, bytes.length), bytes]);
  }
  if (typeof value === 'number') return unsigned(integerType, value);
  if (Array.isArray(value)) return Buffer.concat([control(11, value.length), ...value.map((item) => encode(item))]);
  const entries = Object.entries(value);
  return Buffer.concat([control(7, entries.length), ...entries.flatMap(([key, item]) => [encode(key), encode(item)])]);
}

/** `networks`: `['203.0.113.0/24', record]` pairs (IPv4). */
export function writeMmdb(networks: [string, Value][]): Buffer {
  const nodes: [number, number][] = [[-1, -1]];
  const datas: Buffer[] = [];
  const offsets: number[] = [];
  let dataLength = 0;
  for (const [network, record] of networks) {
    const [address, bitsText] = network.split('/') as [string, string];
    const bits = Number(bitsText);
    const ip = address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
    const data = encode(record);
    offsets.push(dataLength);
    datas.push(data);
    dataLength += data.length;
    let node = 0;
    for (let depth = 0; depth < bits; depth++) {
      const bit = Math.floor(ip / 2 ** (31 - depth)) % 2;
      const current = nodes[node] as [number, number];
      if (depth === bits - 1) {
        current[bit] = -(2 + datas.length - 1); // a data record, resolved below
      } else {
        if ((current[bit] as number) < 0 && current[bit] !== -1) throw new Error('overlapping networks');
        if (current[bit] === -1) {
          nodes.push([-1, -1]);
          current[bit] = nodes.length - 1;
        }
        node = current[bit] as number;
      }
    }
  }
  const nodeCount = nodes.length;
  const tree = Buffer.alloc(nodeCount * 6);
  const resolve = (record: number) => {
    if (record >= 0) return record;
    if (record === -1) return nodeCount; // no data
    return nodeCount + 16 + (offsets[-record - 2] as number);
  };
  nodes.forEach(([left, right], index) => {
    tree.writeUIntBE(resolve(left), index * 6, 3);
    tree.writeUIntBE(resolve(right), index * 6 + 3, 3);
  });
  const metadata = Buffer.concat([
    control(7, 9),
    encode('node_count'),
    unsigned(6, nodeCount),
    encode('record_size'),
    unsigned(5, 24),
    encode('ip_version'),
    unsigned(5, 4),
    encode('database_type'),
    encode('Tally-Test-City'),
    encode('languages'),
    encode(['en']),
    encode('binary_format_major_version'),
    unsigned(5, 2),
    encode('binary_format_minor_version'),
    unsigned(5, 0),
    encode('build_epoch'),
    unsigned(9, 1_700_000_000),
    encode('description'),
    encode({ en: 'Tally test database' }),
  ]);
  return Buffer.concat([
    tree,
    Buffer.alloc(16),
    ...datas,
    Buffer.from([0xab, 0xcd, 0xef]),
    Buffer.from('MaxMind.com'),
    metadata,
  ]);
}
