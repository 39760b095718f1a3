// Runs the test suite twice: on SQLite, then — when CARTE_TEST_PG_URL is set — every test
// that starts servers again on PostgreSQL (CARTE_TEST_STORE=postgres: a fresh schema per
// server). Ends with one summary line per store and the combined `ℹ pass N` / `ℹ fail N`.
//   node test/run.mjs [FILE…]
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Files with nothing to re-run on PostgreSQL: SQLite files, the dialects' own suites, pure compilation, the linter and the browser, and files that make their own PostgreSQL schema. */
const SQLITE_ONLY = new Set(['store.test.ts', 'store-sqlite.test.ts', 'store-postgres.test.ts', 'store-sql.test.ts', 'openapi-lint.test.ts', 'portal-browser.test.ts', 'scale-postgres.test.ts']);

const given = process.argv.slice(2);
const files = given.length > 0 ? given : readdirSync(path.join(root, 'test')).filter((f) => f.endsWith('.test.ts')).sort().map((f) => `test/${f}`);

function run(label, list, env) {
  return new Promise((resolve) => {
    process.stdout.write(`\n━━ ${label}: ${list.length} file${list.length === 1 ? '' : 's'} ━━\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...list], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // node:test prints its summary (ℹ pass N…) before the list of failures: keep the last
    // value of each counter as the output streams by.
    const counts = { pass: 0, fail: 0, skipped: 0 };
    let pending = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^ℹ (pass|fail|skipped) (\d+)$/.exec(line);
        if (m) counts[m[1]] = Number(m[2]);
      }
    });
    child.on('close', (code) => {
      resolve({ label, code, ...counts });
    });
  });
}

const results = [await run('sqlite', files, { CARTE_TEST_STORE: 'sqlite' })];
if (process.env.CARTE_TEST_PG_URL) {
  const again = files.filter((f) => !SQLITE_ONLY.has(path.basename(f)));
  if (again.length > 0) results.push(await run('postgres', again, { CARTE_TEST_STORE: 'postgres' }));
} else {
  process.stdout.write('\nℹ CARTE_TEST_PG_URL is not set: the suite did not run on PostgreSQL.\n');
}
process.stdout.write('\n');
for (const r of results) process.stdout.write(`ℹ ${r.label}: pass ${r.pass}, fail ${r.fail}${r.skipped ? `, skipped ${r.skipped}` : ''}\n`);
const pass = results.reduce((n, r) => n + r.pass, 0);
const fail = results.reduce((n, r) => n + r.fail, 0);
process.stdout.write(`ℹ pass ${pass}\nℹ fail ${fail}\n`);
process.exitCode = results.some((r) => r.code !== 0) || fail > 0 ? 1 : 0;
