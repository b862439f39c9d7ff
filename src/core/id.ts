// UUIDv7 ids (RFC 9562): 48 bits of Unix milliseconds, then random bits. Time-ordered, so raw
// events append to their index instead of landing at random places. Random bytes come from a
// pool refilled 4 KB at a time: one system call per ~400 ids instead of one per id, which matters
// on the ingestion path.
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;

function random10(): Buffer {
  if (offset + 10 > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  offset += 10;
  return pool.subarray(offset - 10, offset);
}

export function uuidv7(now = Date.now()): string {
  const r = random10();
  const b = Buffer.allocUnsafe(16);
  b.writeUIntBE(now, 0, 6);
  b[6] = 0x70 | (r[0]! & 0x0f); // version 7
  b[7] = r[1]!;
  b[8] = 0x80 | (r[2]! & 0x3f); // variant 10
  r.copy(b, 9, 3, 10);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
