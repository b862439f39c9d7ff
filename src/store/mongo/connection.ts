// Connecting: which database, and whether the server can run the transactions applyEvents needs.
import type { Db, Document } from 'mongodb';

export const DEFAULT_DB_NAME = 'analytics';

/** The database named in the URI path (`mongodb://host/analytics`), else `analytics`. */
export function dbNameFromUri(uri: string): string {
  // Credentials must percent-encode '/', so the first '/' after the scheme starts the path.
  const m = /^mongodb(?:\+srv)?:\/\/[^/?#]*\/([^?#]*)/i.exec(uri);
  const name = m?.[1] ? decodeURIComponent(m[1]) : '';
  return name || DEFAULT_DB_NAME;
}

export const REPLICA_SET_REQUIRED =
  'The MongoDB store needs a replica set or a sharded cluster: it applies each batch of events in a ' +
  'transaction, and a standalone mongod cannot run transactions. A single-node replica set is fine: ' +
  'start mongod with `--replSet rs0` and run `rs.initiate()` once in mongosh ' +
  "(Docker: `docker run -d -p 27017:27017 mongo:7 --replSet rs0`, then `docker exec <container> mongosh --eval 'rs.initiate()'`, " +
  'and add `?directConnection=true` to MONGODB_URI if the member name is not reachable from here).';

/** Throws with the way out when `hello` describes a standalone server. */
export async function assertTransactionsSupported(db: Db): Promise<void> {
  const hello: Document = await db.admin().command({ hello: 1 });
  const replicaSetMember = typeof hello.setName === 'string' && hello.setName.length > 0;
  const mongos = hello.msg === 'isdbgrid';
  if (!replicaSetMember && !mongos) throw new Error(REPLICA_SET_REQUIRED);
}
