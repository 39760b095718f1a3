/**
 * The baseline: a hand-written Fastify 5 + better-sqlite3 server doing what Carte does for
 * the benchmark's requests, the best way this stack allows — prepared statements, response
 * schemas validated by Ajv, the same durability (WAL, synchronous=FULL), the
 * same table, indexes and trigram search index, the same observable contract (status, body,
 * Content-Range/Accept-Range/Link on lists, Location, strong ETags).
 * JSON is serialized once per response (the text gives both the body and its ETag).
 *
 * With `--representation carte` it answers with Carte's representation, byte for byte in
 * shape: the item's hypermedia links (the `Link` header and `links` in the body), `self`
 * links on list items, the `next-cursor` page link, `X-Request-Id`, the CORS headers and
 * `Vary`. It then measures what that representation costs on this stack, apart from
 * Carte's own machinery.
 * Usage: node --import tsx bench/baseline/server.ts --db FILE --port N [--load N] [--representation bare|carte]
 */
import { createHash, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { Ajv } from 'ajv';
import Fastify, { type FastifyReply } from 'fastify';
import { restaurants } from '../data.js';

const { values } = parseArgs({ options: { db: { type: 'string' }, port: { type: 'string' }, load: { type: 'string' }, representation: { type: 'string', default: 'bare' } } });
const CARTE = values.representation === 'carte';
const FILE = values.db ?? 'baseline.db';
const open = () => {
  const d = new Database(FILE);
  d.pragma('journal_mode = WAL');
  d.pragma('synchronous = FULL');
  d.exec(`
CREATE TABLE IF NOT EXISTS restaurants (
  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, type TEXT, rating INTEGER, reviews INTEGER,
  days TEXT, zipcode TEXT, address TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS ix_type ON restaurants (type);
CREATE INDEX IF NOT EXISTS ix_rating ON restaurants (rating);
CREATE INDEX IF NOT EXISTS ix_type_rating ON restaurants (type, rating);
CREATE VIRTUAL TABLE IF NOT EXISTS restaurants_search USING fts5(name, zipcode, tokenize='trigram', detail='none');
`);
  return d;
};

const fold = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
const INSERT = 'INSERT INTO restaurants (name, type, rating, reviews, days, zipcode, address) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *';
const INSERT_SEARCH = 'INSERT INTO restaurants_search (rowid, name, zipcode) VALUES (?, ?, ?)';

if (values.load) {
  // Loaded by a connection of its own, closed before serving, as Carte's file is closed by its
  // loader: every server then opens its file with an empty write-ahead log. (SQLite reads an empty
  // log's database size with one more system call per read transaction, until the first write;
  // loaded by the serving connection, only Carte's reads paid it.) Loaded in this process, as
  // before: loaded by another one, this server's own objects came out slower (V8 map migrations
  // in `decode`: 123,000 → 163,000 instructions per GET item).
  const loader = open();
  if ((loader.prepare('SELECT count(*) AS n FROM restaurants').get() as { n: number }).n === 0) {
    const insert = loader.prepare(INSERT);
    const insertSearch = loader.prepare(INSERT_SEARCH);
    loader.transaction(() => {
      for (const r of restaurants(Number(values.load))) {
        const row = insert.get(r.name, r.type, r.rating, r.reviews, JSON.stringify(r.days), r.zipcode, JSON.stringify(r.address)) as Row;
        insertSearch.run(row.id, fold(r.name), r.zipcode);
      }
    })();
  }
  loader.close();
}

const db = open();
const insert = db.prepare(INSERT);
const insertSearch = db.prepare(INSERT_SEARCH);
const deleteSearch = db.prepare('DELETE FROM restaurants_search WHERE rowid = ?');
const byId = db.prepare('SELECT * FROM restaurants WHERE id = ?');
const update = db.prepare('UPDATE restaurants SET name = ?, type = ?, rating = ?, reviews = ?, days = ?, zipcode = ?, address = ? WHERE id = ? RETURNING *');
/**
 * One statement per page size, the size written into the SQL: SQLite (3.53) compiles a statement
 * with a bound `LIMIT ?` again every time it runs (its planner uses the value), which Carte avoids
 * too. The offset stays bound.
 */
const listStatements = new Map<number, Database.Statement>();
const listByType = (limit: number) => {
  let stmt = listStatements.get(limit);
  if (!stmt) listStatements.set(limit, (stmt = db.prepare(`SELECT * FROM restaurants WHERE type = ? ORDER BY rating DESC, id DESC LIMIT ${Math.trunc(limit)} OFFSET ?`)));
  return stmt;
};
const countByType = db.prepare('SELECT count(*) AS n FROM restaurants WHERE type = ?');
const searchPage = db.prepare('SELECT * FROM restaurants WHERE rowid IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT 25');
const searchIds = db.prepare('SELECT rowid AS r FROM restaurants_search WHERE name GLOB ?');

interface Row {
  id: number;
  name: string;
  type: string;
  rating: number | null;
  reviews: number | null;
  days: string | null;
  zipcode: string | null;
  address: string | null;
}
const decode = (r: Row) => ({ id: r.id, name: r.name, type: r.type, rating: r.rating, reviews: r.reviews, days: r.days === null ? null : JSON.parse(r.days), zipcode: r.zipcode, address: r.address === null ? null : JSON.parse(r.address) });
const etag = (text: string) => `"${createHash('sha1').update(text).digest('base64url')}"`;

const bodySchema = {
  type: 'object',
  required: ['name', 'type'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', maxLength: 200 },
    type: { type: 'string', enum: ['thai', 'chinese', 'japanese', 'italian', 'french', 'indian'] },
    rating: { type: ['integer', 'null'], minimum: 0, maximum: 5 },
    reviews: { type: ['integer', 'null'], minimum: 0 },
    days: { type: ['array', 'null'], items: { type: 'string' } },
    zipcode: { type: ['string', 'null'], pattern: '^[0-9]{5}$' },
    address: { type: ['object', 'null'], additionalProperties: false, properties: { street: { type: 'string' }, city: { type: 'string' } } },
  },
} as const;

const app = Fastify({ logger: false });
const ajv = new Ajv({ allErrors: true });
const validateItem = ajv.compile(bodySchema);
const JSON_TYPE = 'application/json; charset=utf-8';
/** Serializes once: the same text gives the body and its ETag. */
const sendJson = (reply: FastifyReply, status: number, body: unknown) => {
  const text = JSON.stringify(body);
  if (CARTE) reply.headers(carteHeaders(reply.request.headers['x-request-id']));
  return reply.code(status).header('ETag', etag(text)).header('content-type', JSON_TYPE).send(text);
};

// ---- Carte's representation (--representation carte) ----
const EXPOSE = 'Content-Range, Accept-Range, Accept-Ranges, Link, Location, ETag, Last-Modified, Preference-Applied, Idempotent-Replayed, Deprecation, Sunset, X-Request-Id, RateLimit, RateLimit-Policy, Retry-After';
const carteHeaders = (given: string | string[] | undefined) => ({
  'X-Request-Id': typeof given === 'string' ? given : randomUUID(),
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': EXPOSE,
  Vary: 'Accept',
});
const ACTIONS = [
  ['GET', ['application/json', 'application/xml']],
  ['PUT', ['application/json', 'application/xml', 'application/x-www-form-urlencoded']],
  ['PATCH', ['application/merge-patch+json', 'application/json', 'application/xml']],
  ['DELETE', []],
] as const;
const itemUrl = (host: string, id: number) => `http://${host}/v1/restaurants/${id}`;
/** An item with its links, and the `Link` header that lists them. */
const withItemLinks = (reply: FastifyReply, item: { id: number }) => {
  const href = itemUrl(reply.request.host, item.id);
  reply.header('Link', ACTIONS.map(([method]) => `<${href}>; rel="self"; method="${method}"`).join(', '));
  return { ...item, links: ACTIONS.map(([action, types]) => ({ rel: 'self', href, action, types })) };
};
const selfLink = (host: string, id: number) => [{ rel: 'self', href: itemUrl(host, id), action: 'GET', types: ACTIONS[0][1] }];
const cursorOf = (row: Row) => Buffer.from(JSON.stringify(['mmDr8eNY', row.rating, row.id])).toString('base64url');

app.get('/v1/restaurants/:id', async (request, reply) => {
  const row = byId.get(Number((request.params as { id: string }).id)) as Row | undefined;
  if (!row) return reply.code(404).send({ error: 'not_found' });
  const item = decode(row);
  const fields = (request.query as { fields?: string }).fields;
  if (fields) {
    const keep = new Set(['id', ...fields.split(',')]);
    return sendJson(reply, 200, Object.fromEntries(Object.entries(item).filter(([k]) => keep.has(k))));
  }
  return sendJson(reply, 200, CARTE ? withItemLinks(reply, item) : item);
});

app.get('/v1/restaurants', async (request, reply) => {
  const q = request.query as { type?: string; range?: string };
  const [first, last] = (q.range ?? '0-24').split('-').map(Number) as [number, number];
  const limit = last - first + 1;
  const rows = listByType(limit).all(q.type, first) as Row[];
  const items = rows.map(decode);
  const total = (countByType.get(q.type) as { n: number }).n;
  const base = `http://${request.host}/v1/restaurants?type=${q.type}&sort=rating&desc${CARTE ? '=' : ''}`;
  reply.header('Content-Range', `${first}-${first + items.length - 1}/${total}`);
  reply.header('Accept-Range', 'restaurant 50');
  const lastRow = rows[rows.length - 1];
  const cursor = CARTE && lastRow ? `, <${base}&after=${cursorOf(lastRow)}&limit=${limit}>; rel="next-cursor"` : '';
  reply.header('Link', `<${base}&range=0-${limit - 1}>; rel="first", <${base}&range=${last + 1}-${last + limit}>; rel="next", <${base}&range=${total - limit}-${total - 1}>; rel="last"${cursor}`);
  return sendJson(reply, items.length < total ? 206 : 200, CARTE ? items.map((item) => ({ ...item, links: selfLink(request.host, item.id) })) : items);
});

app.get('/v1/restaurants/search', async (request, reply) => {
  const q = request.query as { name: string; range?: string };
  const ids = (searchIds.all(fold(q.name)) as { r: number }[]).map((r) => r.r);
  const items = (searchPage.all(JSON.stringify(ids)) as Row[]).map(decode);
  const body = { count: ids.length, range: `0-${items.length - 1}`, query: `name=${q.name}`, suggestions: [], results: items };
  reply.header('Content-Range', `0-${items.length - 1}/${ids.length}`).header('Accept-Range', 'search 50');
  return sendJson(reply, items.length < ids.length ? 206 : 200, body);
});

app.post('/v1/restaurants', { schema: { body: bodySchema } }, async (request, reply) => {
  const b = request.body as Record<string, unknown>;
  const row = db.transaction(() => {
    const r = insert.get(b.name, b.type, b.rating ?? null, b.reviews ?? 0, b.days ? JSON.stringify(b.days) : null, b.zipcode ?? null, b.address ? JSON.stringify(b.address) : null) as Row;
    insertSearch.run(r.id, fold(r.name), r.zipcode);
    return r;
  })();
  reply.header('Location', `http://${request.host}/v1/restaurants/${row.id}`);
  return sendJson(reply, 201, CARTE ? withItemLinks(reply, decode(row)) : decode(row));
});

app.patch('/v1/restaurants/:id', async (request, reply) => {
  const id = Number((request.params as { id: string }).id);
  const patch = request.body as Record<string, unknown>;
  const row = db.transaction(() => {
    const current = byId.get(id) as Row | undefined;
    if (!current) return undefined;
    const { id: _id, ...merged } = { ...decode(current), ...patch };
    if (!validateItem(merged)) throw Object.assign(new Error('invalid'), { statusCode: 400 });
    const r = update.get(merged.name, merged.type, merged.rating, merged.reviews, merged.days ? JSON.stringify(merged.days) : null, merged.zipcode, merged.address ? JSON.stringify(merged.address) : null, id) as Row;
    deleteSearch.run(id);
    insertSearch.run(id, fold(r.name), r.zipcode);
    return r;
  })();
  if (!row) return reply.code(404).send({ error: 'not_found' });
  return sendJson(reply, 200, CARTE ? withItemLinks(reply, decode(row)) : decode(row));
});

await app.listen({ port: Number(values.port ?? 3100), host: '127.0.0.1' });
process.stdout.write(`baseline listening on ${values.port}\n`);
