// Many rows into one table, the fastest way each database offers, with the same meaning:
// PostgreSQL gets one statement whose rows travel as arrays (unnest); SQLite, which runs in this
// process, gets one cached prepared statement executed per row inside the caller's transaction.
import type BetterSqlite3 from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

export type ColumnType = 'text' | 'bigint' | 'uuid';
export type Value = string | number | null;

export interface Table {
  name: string;
  columns: string[];
  types: ColumnType[];
  /** The unique key that decides a conflict. */
  key: string[];
}

export interface Bulk {
  /** Inserts rows whose key is new; returns, per row, whether it was inserted. */
  insertNew(db: Kysely<Database>, t: Table, rows: Value[][]): Promise<boolean[]>;
  /** Like insertNew, returning the generated `idColumn` of inserted rows (undefined on conflict). */
  insertNewIds(db: Kysely<Database>, t: Table, idColumn: string, rows: Value[][]): Promise<(number | undefined)[]>;
  /** Inserts rows, or on conflict adds the `add` columns to the stored row and overwrites `set`. */
  upsertAdd(db: Kysely<Database>, t: Table, rows: Value[][], add: string[], set?: string[]): Promise<void>;
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
const keyOf = (row: Value[], idx: number[]) => (idx.length === 1 ? String(row[idx[0]!]) : idx.map((i) => String(row[i])).join('\u0000'));

/**
 * A PostgreSQL array literal for column j of the rows. Built here rather than by node-postgres,
 * whose generic per-element escaping cost more than the rest of the worker's work per event.
 */
function arrayLiteral(rows: Value[][], j: number, type: ColumnType): string {
  const parts = new Array<string>(rows.length);
  if (type === 'text') {
    for (let i = 0; i < rows.length; i++) {
      const raw = rows[i]![j];
      if (raw === null) {
        parts[i] = 'NULL';
        continue;
      }
      const v = String(raw);
      parts[i] = v.includes('"') || v.includes('\\') ? `"${v.replace(/[\\"]/g, '\\$&')}"` : `"${v}"`;
    }
  } else {
    for (let i = 0; i < rows.length; i++) parts[i] = rows[i]![j] === null ? 'NULL' : String(rows[i]![j]);
  }
  return `{${parts.join(',')}}`;
}

export class PostgresBulk implements Bulk {
  private source(t: Table, rows: Value[][]) {
    const arrays = t.types.map((type, j) => sql`${arrayLiteral(rows, j, type)}::${sql.raw(type)}[]`);
    return sql`insert into ${sql.raw(ident(t.name))} (${sql.raw(t.columns.map(ident).join(', '))}) select * from unnest(${sql.join(arrays)})`;
  }

  async insertNew(db: Kysely<Database>, t: Table, rows: Value[][]): Promise<boolean[]> {
    if (rows.length === 0) return [];
    const idx = t.key.map((k) => t.columns.indexOf(k));
    const res = await sql<Record<string, Value>>`${this.source(t, rows)} on conflict (${sql.raw(t.key.map(ident).join(', '))}) do nothing
      returning ${sql.raw(t.key.map(ident).join(', '))}`.execute(db);
    const inserted = new Set(res.rows.map((r) => (t.key.length === 1 ? String(r[t.key[0]!]) : t.key.map((k) => String(r[k])).join('\u0000'))));
    return rows.map((row) => inserted.has(keyOf(row, idx)));
  }

  async insertNewIds(db: Kysely<Database>, t: Table, idColumn: string, rows: Value[][]): Promise<(number | undefined)[]> {
    if (rows.length === 0) return [];
    const idx = t.key.map((k) => t.columns.indexOf(k));
    const res = await sql<Record<string, Value>>`${this.source(t, rows)} on conflict (${sql.raw(t.key.map(ident).join(', '))}) do nothing
      returning ${sql.raw([...t.key, idColumn].map(ident).join(', '))}`.execute(db);
    const ids = new Map(res.rows.map((r) => [t.key.map((k) => String(r[k])).join('\u0000'), Number(r[idColumn])]));
    return rows.map((row) => ids.get(keyOf(row, idx)));
  }

  async upsertAdd(db: Kysely<Database>, t: Table, rows: Value[][], add: string[], set: string[] = []): Promise<void> {
    if (rows.length === 0) return;
    await sql`${this.source(t, rows)} on conflict (${sql.raw(t.key.map(ident).join(', '))}) do update set ${sql.raw(updateClause(t, add, set))}`.execute(db);
  }
}

function updateClause(t: Table, add: string[], set: string[]): string {
  return [...add.map((c) => `${ident(c)} = ${ident(t.name)}.${ident(c)} + excluded.${ident(c)}`), ...set.map((c) => `${ident(c)} = excluded.${ident(c)}`)].join(', ');
}

export class SqliteBulk implements Bulk {
  private statements = new Map<string, BetterSqlite3.Statement>();

  constructor(private handle: BetterSqlite3.Database) {}

  private statement(text: string): BetterSqlite3.Statement {
    let s = this.statements.get(text);
    if (!s) {
      s = this.handle.prepare(text);
      this.statements.set(text, s);
    }
    return s;
  }

  private insert(t: Table, tail: string): BetterSqlite3.Statement {
    return this.statement(
      `insert into ${ident(t.name)} (${t.columns.map(ident).join(', ')}) values (${t.columns.map(() => '?').join(', ')}) ${tail}`,
    );
  }

  // better-sqlite3 is synchronous and shares Kysely's single connection: these statements run
  // inside the transaction Kysely opened on it.
  async insertNew(_db: Kysely<Database>, t: Table, rows: Value[][]): Promise<boolean[]> {
    const s = this.insert(t, `on conflict (${t.key.map(ident).join(', ')}) do nothing`);
    return rows.map((row) => s.run(row).changes === 1);
  }

  async insertNewIds(_db: Kysely<Database>, t: Table, _idColumn: string, rows: Value[][]): Promise<(number | undefined)[]> {
    const s = this.insert(t, `on conflict (${t.key.map(ident).join(', ')}) do nothing`);
    return rows.map((row) => {
      const r = s.run(row);
      return r.changes === 1 ? Number(r.lastInsertRowid) : undefined;
    });
  }

  async upsertAdd(_db: Kysely<Database>, t: Table, rows: Value[][], add: string[], set: string[] = []): Promise<void> {
    const s = this.insert(t, `on conflict (${t.key.map(ident).join(', ')}) do update set ${updateClause(t, add, set)}`);
    for (const row of rows) s.run(row);
  }
}
