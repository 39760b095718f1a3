/**
 * The data commands through real child processes (SPEC §1, §10): `carte init`,
 * `carte import` (JSON, NDJSON, CSV; validation through the service; a bad row imports
 * nothing; --skip-invalid; batches; events recorded), `carte export`, `carte migrate`
 * (plan, --apply, --allow-destructive), `carte infer` and `carte serve db.json`.
 * With CARTE_TEST_STORE=postgres every database is a fresh PostgreSQL schema.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startServer, type TestServer } from './helpers.js';
import { newPgDatabase, newSqliteDatabase, testStoreKind, type TestDatabase } from './store-databases.js';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'carte-cli-data-'));
const env = { ...process.env, NO_COLOR: '1', CARTE_DB: '' };
const databases: TestDatabase[] = [];

after(async () => {
  for (const d of databases) await d.drop();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function carte(args: readonly string[], cwd = dir): Promise<Run> {
  try {
    const { stdout, stderr } = await exec('node', [path.join(root, 'bin/carte.js'), ...args], { cwd, env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const failure = e as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

function newDatabase(): string {
  const d = testStoreKind() === 'postgres' ? newPgDatabase() : newSqliteDatabase();
  databases.push(d);
  return d.url;
}

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

const SCHEMA = file(
  'shop.yaml',
  `api: { name: Shop, version: 1 }
resources:
  customers:
    required: [name]
    access: { read: public, write: authenticated }
    fields:
      name: { type: string, maxLength: 100 }
      email: { type: string, format: email, unique: true }
      vip: { type: boolean, default: false }
      visits: { type: integer, minimum: 0 }
      tags: { type: array, items: { type: string } }
      address: { type: object }
      createdAt: { type: string, format: date-time, readOnly: true }
  orders:
    access: { read: public, write: authenticated }
    fields:
      customerId: { type: integer, references: customers }
      total: { type: number, minimum: 0 }
      state: { type: string, enum: [placed, paid], default: placed, transitions: { placed: [paid] } }
`,
);

/** A server on the same database, to look at what the command line wrote. */
async function serverOn(db: string): Promise<TestServer> {
  return startServer({ schema: SCHEMA, config: { db } });
}

async function items(db: string, resource: string): Promise<Record<string, unknown>[]> {
  const t = await serverOn(db);
  try {
    const res = await t.get(`/v1/${resource}?range=0-49`);
    assert.ok(res.status === 200 || res.status === 206, res.text);
    return (res.body as Record<string, unknown>[]).map(({ links: _links, ...rest }) => rest);
  } finally {
    await t.close();
  }
}

describe('carte import', () => {
  test('NDJSON: validated with defaults, one summary line off a TTY, events recorded', async () => {
    const db = newDatabase();
    const data = file(
      'customers.ndjson',
      '{"name":"Ada","email":"ada@example.com","tags":["math"]}\n\n{"name":"Bob","visits":3,"address":{"city":"Lyon"}}\n{"id":10,"name":"Cy","vip":true}\n',
    );
    const run = await carte(['import', 'customers', data, '--schema', SCHEMA, '--db', db]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^✓ imported 3 customers from .*customers\.ndjson in \d+\.\d s \(\d+ items\/s\)\.\n$/);
    assert.ok(!run.stdout.includes('\r'), 'no progress bar off a TTY');
    const rows = await items(db, 'customers');
    assert.deepEqual(
      rows.map((r) => [r.id, r.name, r.vip, r.visits, r.tags, r.address]),
      [
        [1, 'Ada', false, null, ['math'], null],
        [2, 'Bob', false, 3, null, { city: 'Lyon' }],
        [10, 'Cy', true, null, null, null],
      ],
    );
    assert.match(String(rows[0]?.createdAt), /^\d{4}-\d{2}-\d{2}T/);
    const t = await serverOn(db);
    try {
      const events = await t.get('/v1/events');
      assert.equal(events.status, 200, events.text);
      assert.deepEqual((events.body as { type: string; resourceId: string }[]).map((e) => `${e.type}:${e.resourceId}`), ['customers.created:1', 'customers.created:2', 'customers.created:10']);
    } finally {
      await t.close();
    }
  });

  test('a progress bar on a terminal (run under script(1), which gives the command a pty)', async () => {
    const db = newDatabase();
    const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ name: `C${i}` }));
    const data = file('tty.ndjson', `${lines.join('\n')}\n`);
    const command = ['node', path.join(root, 'bin/carte.js'), 'import', 'customers', data, '--schema', SCHEMA, '--db', db, '--batch-size', '100'].map((a) => `'${a}'`).join(' ');
    const { stdout } = await exec('script', ['-qec', command, '/dev/null'], { cwd: dir, env, timeout: 60_000 });
    assert.match(stdout, /\r\x1b\[2K(checking |importing) \[[#-]+\] +\d+%  [\d,]+ rows  [\d,]+ rows\/s/);
    assert.match(stdout, /imported 3000 customers/);
  });

  test('a bad row names its line and its errors, and nothing is imported', async () => {
    const db = newDatabase();
    const data = file('bad.ndjson', '{"name":"Ada"}\n{"name":"Bob","email":"not-an-email","visits":-1}\n{"name":"Cy"}\n{"name": "Dee",\n{"nom":"Eve"}\n');
    const run = await carte(['import', 'customers', data, '--schema', SCHEMA, '--db', db]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /bad\.ndjson:2: 'email' must be a valid email \(email: format\)/);
    assert.match(run.stderr, /bad\.ndjson:2: 'visits' must be >= 0 \(visits: minimum\)/);
    assert.match(run.stderr, /bad\.ndjson:4: not valid JSON/);
    assert.match(run.stderr, /bad\.ndjson:5: .*'name' is required/);
    assert.match(run.stderr, /bad\.ndjson:5: There is no 'nom' property/);
    assert.match(run.stderr, /3 invalid items in .*bad\.ndjson: nothing imported \(--skip-invalid imports the others\)\.\n$/);
    assert.deepEqual(await items(db, 'customers'), []);
  });

  test('--skip-invalid imports the rest and reports the bad lines', async () => {
    const db = newDatabase();
    const data = file('mixed.ndjson', '{"name":"Ada"}\n{"name":"Bob","email":"nope"}\n[1,2]\n{"name":"Cy"}\n');
    const run = await carte(['import', 'customers', data, '--schema', SCHEMA, '--db', db, '--skip-invalid']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /imported 2 customers .*; skipped 2 invalid items \(lines 2, 3\)\.\n$/);
    assert.match(run.stderr, /mixed\.ndjson:2: 'email' must be a valid email/);
    assert.match(run.stderr, /mixed\.ndjson:3: Each item must be a JSON object representing a customer/);
    assert.deepEqual((await items(db, 'customers')).map((r) => r.name), ['Ada', 'Cy']);
  });

  test('CSV: cells typed by the schema, quoted commas and newlines, empty cells absent', async () => {
    const db = newDatabase();
    const data = file(
      'customers.csv',
      'id,name,email,vip,visits,tags,address\n' +
        '1,"Smith, Ada",ada@example.com,true,7,"[""a"",""b""]","{""city"":""Paris""}"\n' +
        '2,"Bob\nthe second",,0,,,\n' +
        '3,Cy,,FALSE,0,[],\n',
    );
    const run = await carte(['import', 'customers', data, '--schema', SCHEMA, '--db', db]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      (await items(db, 'customers')).map((r) => [r.id, r.name, r.email, r.vip, r.visits, r.tags, r.address]),
      [
        [1, 'Smith, Ada', 'ada@example.com', true, 7, ['a', 'b'], { city: 'Paris' }],
        [2, 'Bob\nthe second', null, false, null, null, null],
        [3, 'Cy', null, false, 0, [], null],
      ],
    );
  });

  test('CSV: a cell that does not convert is a validation error on its line', async () => {
    const db = newDatabase();
    const data = file('typed.csv', 'name,visits,vip\nAda,many,yes\n');
    const run = await carte(['import', 'customers', data, '--schema', SCHEMA, '--db', db]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /typed\.csv:2: 'visits' must be an integer/);
    assert.match(run.stderr, /typed\.csv:2: 'vip' must be a boolean/);
  });

  test('malformed CSV and JSON stop with a message and import nothing', async () => {
    const db = newDatabase();
    const ragged = file('ragged.csv', 'name,visits\nAda,1\nBob,2,extra\n');
    let run = await carte(['import', 'customers', ragged, '--schema', SCHEMA, '--db', db]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /ragged\.csv:3: malformed CSV: .*/);
    const unclosed = file('unclosed.csv', 'name,visits\n"Ada,1\n');
    run = await carte(['import', 'customers', unclosed, '--schema', SCHEMA, '--db', db]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /malformed CSV/);
    const notJson = file('broken.json', '[{"name":"Ada"},');
    run = await carte(['import', 'customers', notJson, '--schema', SCHEMA, '--db', db]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /not valid JSON/);
    const notArray = file('object.json', '{"name":"Ada"}');
    run = await carte(['import', 'customers', notArray, '--schema', SCHEMA, '--db', db]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /must hold one JSON array of items/);
    assert.deepEqual(await items(db, 'customers'), []);
  });

  test('a line or record longer than --max-line-bytes stops the read: no line fills the memory', async () => {
    const db = newDatabase();
    const long = file('long.ndjson', `{"name":"a"}\n{"name":"${'x'.repeat(5000)}"}\n`);
    let run = await carte(['import', 'customers', long, '--schema', SCHEMA, '--db', db, '--max-line-bytes', '1000']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /long\.ndjson:2: a line is longer than 1000 bytes \(--max-line-bytes\)/);
    const noBreak = file('nobreak.ndjson', 'x'.repeat(200_000));
    run = await carte(['import', 'customers', noBreak, '--schema', SCHEMA, '--db', db, '--max-line-bytes', '1000']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /nobreak\.ndjson:1: a line is longer than 1000 bytes/);
    const csv = file('long.csv', `name\na\n"${'x'.repeat(5000)}"\n`);
    run = await carte(['import', 'customers', csv, '--schema', SCHEMA, '--db', db, '--max-line-bytes', '1000']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /long\.csv.*malformed CSV: .*1000/);
    assert.deepEqual(await items(db, 'customers'), []);
  });

  test('JSON array: a bad item is reported with the line it starts on', async () => {
    const db = newDatabase();
    const data = file('customers.json', '[\n  {"name": "Ada"},\n  {\n    "name": "Bob",\n    "vip": "yes"\n  },\n  {"name": "Cy"}\n]\n');
    const run = await carte(['import', 'customers', data, '--schema', SCHEMA, '--db', db]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /customers\.json:3: 'vip' must be a boolean/);
    const ok = file('ok.json', '[{"name": "Ada"}, {"name": "Bob"}]');
    const good = await carte(['import', 'customers', ok, '--schema', SCHEMA, '--db', db]);
    assert.equal(good.code, 0, good.stderr);
    assert.deepEqual((await items(db, 'customers')).map((r) => r.name), ['Ada', 'Bob']);
  });

  test('JSON arrays beyond --max-json-bytes are refused with the NDJSON alternative', async () => {
    const data = file('big.json', JSON.stringify([{ name: 'x'.repeat(50) }, { name: 'y'.repeat(50) }]));
    const run = await carte(['import', 'customers', data, '--schema', SCHEMA, '--db', newDatabase(), '--max-json-bytes', '64']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /JSON arrays are read whole, up to 64 bytes .*Convert it to NDJSON/);
  });

  test('references are checked like the API; duplicate ids in the file are caught before anything is written', async () => {
    const db = newDatabase();
    assert.equal((await carte(['import', 'customers', file('c.ndjson', '{"id":1,"name":"Ada"}\n'), '--schema', SCHEMA, '--db', db])).code, 0);
    const dup = file('dup.ndjson', '{"id":5,"total":1}\n{"id":5,"total":2}\n');
    let run = await carte(['import', 'orders', dup, '--schema', SCHEMA, '--db', db]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /dup\.ndjson:2: The id 5 appears twice in the file/);
    // A reference to a missing customer is refused by the database check in the load: the
    // batches before it stay (documented), the one holding it does not.
    const orders = file('orders.ndjson', '{"customerId":1,"total":10}\n{"customerId":1,"total":11}\n{"customerId":1,"total":12}\n{"customerId":99,"total":13}\n{"customerId":1,"total":14}\n');
    run = await carte(['import', 'orders', orders, '--schema', SCHEMA, '--db', db, '--batch-size', '2']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /orders\.ndjson:4: There is no customer with the id '99' \(customerId: reference\)/);
    assert.match(run.stderr, /The database refused the item at line 4; the import stopped\. 2 items of earlier batches stay imported\./);
    assert.deepEqual((await items(db, 'orders')).map((r) => r.total), [10, 11]);
    // In one transaction (--batch-size 0) nothing stays.
    const db2 = newDatabase();
    assert.equal((await carte(['import', 'customers', file('c2.ndjson', '{"id":1,"name":"Ada"}\n'), '--schema', SCHEMA, '--db', db2])).code, 0);
    run = await carte(['import', 'orders', orders, '--schema', SCHEMA, '--db', db2, '--batch-size', '0']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /Nothing was imported\./);
    assert.deepEqual(await items(db2, 'orders'), []);
    // --skip-invalid leaves out the refused row only.
    run = await carte(['import', 'orders', orders, '--schema', SCHEMA, '--db', db2, '--batch-size', '2', '--skip-invalid']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /imported 4 orders .*skipped 1 invalid item \(line 4\)/);
    assert.deepEqual((await items(db2, 'orders')).map((r) => [r.total, r.state]), [[10, 'placed'], [11, 'placed'], [12, 'placed'], [14, 'placed']]);
  });

  test('usage errors: unknown resource, missing file, unknown format, bad numbers', async () => {
    const db = newDatabase();
    let run = await carte(['import', 'nope', file('x.ndjson', '{}\n'), '--schema', SCHEMA, '--db', db]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /there is no resource 'nope' \(the schema has customers, orders\)/);
    run = await carte(['import', 'customers', path.join(dir, 'missing.csv'), '--schema', SCHEMA, '--db', db]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /cannot read .*missing\.csv/);
    run = await carte(['import', 'customers', file('data.txt', ''), '--schema', SCHEMA, '--db', db]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /cannot tell the format of .*data\.txt.*--format json\|ndjson\|csv/);
    run = await carte(['import', 'customers', file('y.ndjson', ''), '--schema', SCHEMA, '--db', db, '--batch-size', '-3']);
    assert.equal(run.code, 2);
    run = await carte(['import', 'customers']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /usage: carte import RESOURCE FILE/);
    run = await carte(['import', '--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /--skip-invalid/);
  });
});

describe('carte export', () => {
  test('JSON, NDJSON and CSV, page after page; what it writes imports back the same', async () => {
    const db = newDatabase();
    const lines = Array.from({ length: 120 }, (_, i) => JSON.stringify({ name: `Customer ${i + 1}`, visits: i, tags: i % 2 ? ['odd'] : [], address: i === 3 ? { city: 'Nîmes, "Gard"' } : null }));
    assert.equal((await carte(['import', 'customers', file('many.ndjson', `${lines.join('\n')}\n`), '--schema', SCHEMA, '--db', db])).code, 0);

    const json = await carte(['export', 'customers', '--schema', SCHEMA, '--db', db]);
    assert.equal(json.code, 0, json.stderr);
    const all = JSON.parse(json.stdout) as Record<string, unknown>[];
    assert.equal(all.length, 120); // more than one page (maxRange 50)
    assert.deepEqual(all.map((r) => r.id), Array.from({ length: 120 }, (_, i) => i + 1));

    const ndjson = await carte(['export', 'customers', '--schema', SCHEMA, '--db', db, '--format', 'ndjson']);
    assert.equal(ndjson.code, 0);
    assert.deepEqual(ndjson.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown), all);

    const out = path.join(dir, 'export.csv');
    const csv = await carte(['export', 'customers', '--schema', SCHEMA, '--db', db, '--out', out]);
    assert.equal(csv.code, 0, csv.stderr);
    assert.match(csv.stderr, /exported 120 customers to .*export\.csv/);
    const text = readFileSync(out, 'utf8');
    assert.equal(text.split('\n')[0], 'id,name,email,vip,visits,tags,address,createdAt');
    assert.match(text, /\n4,Customer 4,,false,3,"\[""odd""\]","{""city"":""Nîmes, \\""Gard\\""""}",\d{4}-/);

    // Round trip into a fresh database: ids and createdAt kept.
    const copy = newDatabase();
    const back = await carte(['import', 'customers', out, '--schema', SCHEMA, '--db', copy]);
    assert.equal(back.code, 0, back.stderr);
    const again = JSON.parse((await carte(['export', 'customers', '--schema', SCHEMA, '--db', copy])).stdout) as unknown[];
    assert.deepEqual(again, all);
  });

  test('an empty resource, and a path that cannot be written', async () => {
    const db = newDatabase();
    const empty = await carte(['export', 'orders', '--schema', SCHEMA, '--db', db]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.deepEqual(JSON.parse(empty.stdout), []);
    const csv = await carte(['export', 'orders', '--schema', SCHEMA, '--db', db, '--format', 'csv']);
    assert.equal(csv.stdout, 'id,customerId,total,state\n');
    const bad = await carte(['export', 'orders', '--schema', SCHEMA, '--db', db, '--out', path.join(dir, 'no/such/dir.json')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /ENOENT/);
  });
});

describe('carte init', () => {
  test('scaffolds a schema that checks, sample data that imports, and refuses to overwrite', async () => {
    const target = path.join(dir, 'library');
    const run = await carte(['init', target]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Next:\n  cd .*library\n  npx carte check carte\.yaml\n  npx carte import authors data\/authors\.json\n  npx carte import books data\/books\.csv\n  npx carte serve carte\.yaml --dev\n$/);
    for (const f of ['carte.yaml', 'README.md', 'data/authors.json', 'data/books.csv']) assert.ok(existsSync(path.join(target, f)), f);
    assert.match(readFileSync(path.join(target, 'carte.yaml'), 'utf8'), /^# The schema of your API/);

    const check = await carte(['check', 'carte.yaml'], target);
    assert.equal(check.code, 0, check.stderr);
    const db = newDatabase();
    assert.equal((await carte(['import', 'authors', 'data/authors.json', '--db', db], target)).code, 0);
    const books = await carte(['import', 'books', 'data/books.csv', '--db', db], target);
    assert.equal(books.code, 0, books.stderr);
    assert.match(books.stdout, /imported 5 books/);

    writeFileSync(path.join(target, 'README.md'), 'mine');
    const again = await carte(['init', target]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exist; nothing written \(--force overwrites\)/);
    assert.equal(readFileSync(path.join(target, 'README.md'), 'utf8'), 'mine');
    const forced = await carte(['init', target, '--force']);
    assert.equal(forced.code, 0);
    assert.notEqual(readFileSync(path.join(target, 'README.md'), 'utf8'), 'mine');
  });
});

describe('carte migrate', () => {
  test('plan, --apply, and destructive steps only with --allow-destructive', async () => {
    const db = newDatabase();
    const v1 = file('m1.yaml', 'api: { name: M, version: 1 }\nresources:\n  notes:\n    fields:\n      title: { type: string }\n      words: { type: integer }\n');
    let run = await carte(['migrate', v1, '--db', db]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Plan for (sqlite|postgres) .*:\n\+ create table .*notes/);
    assert.match(run.stdout, /run again with --apply to apply\.\n$/);
    run = await carte(['migrate', v1, '--db', db, '--apply']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /✓ applied \d+ steps?\./);
    run = await carte(['migrate', v1, '--db', db]);
    assert.match(run.stdout, /already matches the schema/);
    assert.equal((await carte(['import', 'notes', file('n.ndjson', '{"title":"a","words":3}\n'), '--schema', v1, '--db', db])).code, 0);

    // Additive: a new field.
    const v2 = file('m2.yaml', 'api: { name: M, version: 1 }\nresources:\n  notes:\n    fields:\n      title: { type: string }\n      words: { type: integer }\n      tags: { type: array, items: { type: string } }\n');
    run = await carte(['migrate', v2, '--db', db]);
    assert.match(run.stdout, /\+ add column .*tags/);
    assert.ok(!run.stdout.includes('destructive'));
    assert.equal((await carte(['migrate', v2, '--db', db, '--apply'])).code, 0);

    // Destructive: a dropped field and a type change.
    const v3 = file('m3.yaml', 'api: { name: M, version: 1 }\nresources:\n  notes:\n    fields:\n      title: { type: string }\n      words: { type: string }\n');
    run = await carte(['migrate', v3, '--db', db]);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /! destructive: /);
    assert.match(run.stdout, /tags/);
    assert.match(run.stdout, /words/);
    assert.match(run.stdout, /destructive; run again with --apply --allow-destructive to apply\.\n$/);
    run = await carte(['migrate', v3, '--db', db, '--apply']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /destructive steps?: nothing applied; add --allow-destructive/);
    // serve refuses to start on it too (additive only on start, SPEC §10).
    run = await carte(['export', 'notes', '--schema', v3, '--db', db]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /destructive changes/);
    run = await carte(['migrate', v3, '--db', db, '--apply', '--allow-destructive']);
    assert.equal(run.code, 0, run.stderr);
    const exported = await carte(['export', 'notes', '--schema', v3, '--db', db]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.deepEqual((JSON.parse(exported.stdout) as Record<string, unknown>[]).map((r) => [r.title, r.words, 'tags' in r]), [['a', '3', false]]);

    // Dropped resource.
    const v4 = file('m4.yaml', 'api: { name: M, version: 1 }\nresources:\n  memos:\n    fields:\n      title: { type: string }\n');
    run = await carte(['migrate', v4, '--db', db]);
    assert.match(run.stdout, /! destructive: drop table .*notes/);
  });
});

/** Starts `carte serve ARGS` on a free port; resolves once it prints its start line. */
async function serve(args: readonly string[]): Promise<{ url: string; stderr: () => string; stop: () => Promise<void> }> {
  const child = spawn('node', [path.join(root, 'bin/carte.js'), 'serve', ...args, '--port', '0', '--log-level', 'silent'], { cwd: dir, env });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /API (http:\/\/[\d.:]+)\/v1/.exec(out);
      if (m) resolve(m[1] as string);
    });
    child.on('exit', (code) => reject(new Error(`carte serve exited ${code}: ${err}`)));
  });
  return {
    url,
    stderr: () => err,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

describe('carte serve db.json (json-server files)', () => {
  const DB_JSON = JSON.stringify({
    posts: [
      { id: '1', title: 'json-server', views: 100, published: true, createdOn: '2024-01-02T03:04:05Z' },
      { id: '2', title: 'carte', views: 200, published: false, createdOn: '2024-02-03T04:05:06Z' },
    ],
    comments: [
      { id: 'a1f3', text: 'a comment', postId: '1', author_email: 'x@example.com' },
      { id: 'b2e4', text: 'another', postId: '2', author_email: 'y@example.com' },
    ],
    profile: { name: 'typicode', links: ['https://github.com/typicode'] },
  });

  test('carte infer prints the schema it infers, with notes', async () => {
    const data = file('infer.json', DB_JSON);
    const run = await carte(['infer', data]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^# Inferred by 'carte infer' from infer\.json/);
    assert.match(run.stdout, /# note: comments: ids are not all integers or UUIDs; they are renumbered/);
    assert.match(run.stdout, /# note: profile is a singular object: it is the item \/v1\/profile\/1/);
    assert.match(run.stdout, /postId:\n\s+type: integer\n\s+references: posts/);
    assert.match(run.stdout, /createdOn:\n\s+type: string\n\s+format: date-time/);
    assert.match(run.stdout, /authorEmail:\n\s+type: string\n\s+format: email/);
    // The printed schema is a schema Carte accepts.
    const yaml = file('inferred.yaml', run.stdout);
    const check = await carte(['check', yaml]);
    assert.equal(check.code, 0, check.stderr);
    const printed = await carte(['serve', data, '--print-schema']);
    assert.equal(printed.stdout, run.stdout);
  });

  test('serves the data, keeps changes in db.carte.db, and imports only once', { timeout: 120_000 }, async (t) => {
    if (testStoreKind() === 'postgres') {
      // The default database of a json-server file is the SQLite file next to it; PostgreSQL is covered by --db.
    }
    const data = file('db.json', DB_JSON);
    const dbArgs = testStoreKind() === 'postgres' ? ['--db', newDatabase()] : [];
    const first = await serve([data, ...dbArgs]);
    try {
      assert.match(first.stderr(), /imported 5 items from .*db\.json into /);
      const posts = (await (await fetch(`${first.url}/v1/posts`)).json()) as { id: number; title: string; views: number }[];
      assert.deepEqual(posts.map((p) => [p.id, p.title, p.views]), [[1, 'json-server', 100], [2, 'carte', 200]]);
      const comments = (await (await fetch(`${first.url}/v1/comments?postId=2`)).json()) as { id: number; text: string; authorEmail: string }[];
      assert.deepEqual(comments.map((c) => [c.id, c.text, c.authorEmail]), [[2, 'another', 'y@example.com']]);
      const nested = await fetch(`${first.url}/v1/posts/1/comments`);
      assert.equal(nested.status, 200);
      const profile = await fetch(`${first.url}/v1/profile/1`);
      assert.equal(profile.status, 200);
      // `links` is reserved (hypermedia links): the field is `linksValue`.
      assert.deepEqual(((await profile.json()) as { linksValue: string[] }).linksValue, ['https://github.com/typicode']);
      // Writes need a token (json-server has none); anonymous writes are refused.
      const anonymous = await fetch(`${first.url}/v1/posts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"title":"x"}' });
      assert.equal(anonymous.status, 401);
    } finally {
      await first.stop();
    }
    if (dbArgs.length === 0) assert.ok(existsSync(path.join(dir, 'db.carte.db')), 'db.carte.db next to db.json');
    assert.equal(readFileSync(data, 'utf8'), DB_JSON, 'db.json is never written');
    const second = await serve([data, ...dbArgs]);
    try {
      assert.match(second.stderr(), /serving the data already in .* \(imported from .*db\.json on first start; delete it to import again\)/);
      const posts = (await (await fetch(`${second.url}/v1/posts`)).json()) as unknown[];
      assert.equal(posts.length, 2);
    } finally {
      await second.stop();
    }
    t.diagnostic('served twice');
  });

  test('hostile json-server files: malformed, dangling references, not a collection', async () => {
    const broken = file('broken-db.json', '{"posts": [ {"id": 1,');
    const run = await carte(['infer', broken]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /cannot read .*broken-db\.json/);
    const scalar = file('scalar-db.json', '[1, 2, 3]');
    const run2 = await carte(['infer', scalar]);
    assert.equal(run2.code, 1);
    assert.match(run2.stderr, /is not a json-server database/);
    const dangling = file('dangling-db.json', JSON.stringify({ users: [{ id: 1, name: 'a' }], todos: [{ id: 1, userId: 7, title: 't', done: 'sometimes' }, { id: 2, userId: 1, title: 'u', done: true }] }));
    const run3 = await carte(['infer', dangling]);
    assert.equal(run3.code, 0, run3.stderr);
    assert.match(run3.stdout, /# note: todos\.userId: 1 value names no item of users \(e\.g\. 7\); kept as a plain field, not a reference/);
    assert.match(run3.stdout, /done:\n\s+type: string/);
  });
});
