/**
 * SPEC §9: the OpenAPI document is valid under a real linter with zero errors — Redocly CLI's
 * recommended rules, run as a user would (`redocly lint`), on the demo's document and on a
 * schema that uses what the demo does not (uuid keys, owner and authenticated rules, item
 * actions, a default action, If-Match required, snake_case, an operation without input).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ApiSpec } from '../src/schema/types.js';
import { startServer, type TestServer } from './helpers.js';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const REDOCLY = path.join(root, 'node_modules/@redocly/cli/bin/cli.js');

interface LintReport {
  readonly totals: { readonly errors: number; readonly warnings: number; readonly ignored: number };
  readonly problems: readonly { readonly ruleId: string; readonly severity: string; readonly message: string; readonly location: readonly { readonly pointer: string }[] }[];
}

async function lint(document: unknown, name: string, text?: string): Promise<LintReport> {
  const dir = mkdtempSync(path.join(tmpdir(), 'carte-openapi-'));
  try {
    const file = path.join(dir, text === undefined ? `${name}.json` : `${name}.yaml`);
    writeFileSync(file, text ?? JSON.stringify(document));
    // redocly exits 1 when it finds errors; the report on stdout says which.
    const run = await exec(process.execPath, [REDOCLY, 'lint', file, '--format=json', '--extends=recommended'], { cwd: dir, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' } }).catch(
      (e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
    );
    const start = run.stdout.indexOf('{');
    assert.ok(start >= 0, `redocly printed no report: ${run.stderr.slice(0, 2000)}`);
    return JSON.parse(run.stdout.slice(start)) as LintReport;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function describeProblems(report: LintReport): string {
  return report.problems.map((p) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer ?? '?'}: ${p.message}`).join('\n');
}

const other: ApiSpec = {
  api: { name: 'Lint fixture', version: 3, casing: 'snake' },
  resources: {
    'gift-cards': {
      singular: 'gift-card',
      key: { type: 'string', format: 'uuid' },
      access: { read: 'owner:owner_id', write: 'authenticated' },
      requireIfMatch: true,
      required: ['code'],
      fields: {
        code: { type: 'string', pattern: '^[A-Z]{4}-[0-9]{4}$', examples: ['ABCD-1234'] },
        owner_id: { type: 'string' },
        balance: { type: 'number', minimum: 0, default: 0 },
        status: { type: 'string', enum: ['active', 'spent', 'void'], default: 'active', transitions: { active: ['spent', 'void'] } },
        tags: { type: 'array', items: { type: 'string' }, uniqueItems: true },
        scan: { type: 'blob', mediaTypes: ['application/pdf'], maxBytes: 100000 },
      },
      actions: {
        redeem: { summary: 'Redeems the card', access: 'scope:cards:redeem', input: { type: 'object', properties: { amount: { type: 'number', minimum: 0 } }, required: ['amount'] }, output: { type: 'number' }, handler: () => 0 },
        ping: { access: 'public', handler: () => 'pong' },
      },
      defaultAction: 'ping',
    },
    purchases: {
      access: 'public',
      fields: {
        gift_card_id: { type: 'string', format: 'uuid', references: 'gift-cards', onDelete: 'cascade' },
        amount: { type: 'number', exclusiveMinimum: 0 },
        at: { type: 'string', format: 'date-time' },
      },
    },
  },
  actions: {
    'reports/daily': { access: 'none', output: { type: 'object' }, handler: () => ({}) },
  },
};

describe('OpenAPI document under redocly lint (recommended rules)', () => {
  const servers: TestServer[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });

  it('the demo: zero errors and zero warnings', { timeout: 120_000 }, async () => {
    const t = await startServer();
    servers.push(t);
    const res = await t.request('GET', '/v1/openapi.json', { anonymous: true });
    assert.equal(res.status, 200);
    const report = await lint(res.body, 'demo');
    assert.equal(report.totals.errors, 0, describeProblems(report));
    assert.equal(report.totals.warnings, 0, describeProblems(report));
    // The YAML the server writes, linted as YAML.
    const yaml = await t.request('GET', '/v1/openapi.yaml', { anonymous: true });
    const yamlReport = await lint(null, 'demo', yaml.text);
    assert.equal(yamlReport.totals.errors, 0, describeProblems(yamlReport));
    assert.equal(yamlReport.totals.warnings, 0, describeProblems(yamlReport));
  });

  it('a schema with uuid keys, owner rules, item and default actions, If-Match required: zero errors and zero warnings', { timeout: 120_000 }, async () => {
    const t = await startServer({ schema: other });
    servers.push(t);
    const res = await t.request('GET', '/v3/openapi.json', { anonymous: true });
    assert.equal(res.status, 200);
    const doc = res.body as { paths: Record<string, Record<string, { operationId: string }>> };
    // The fixture's features are in the document (so the lint covers them).
    assert.ok(doc.paths['/v3/gift-cards/{id}/redeem']?.post, 'item action');
    assert.ok(doc.paths['/v3/gift-cards/{id}']?.post, 'default action');
    assert.ok(doc.paths['/v3/gift-cards/{id}/scan']?.put, 'blob');
    assert.ok(doc.paths['/v3/gift-cards/{giftCardId}/purchases']?.get, 'nested collection');
    assert.ok(doc.paths['/v3/reports/daily']?.post, 'operation');
    const report = await lint(res.body, 'fixture');
    assert.equal(report.totals.errors, 0, describeProblems(report));
    assert.equal(report.totals.warnings, 0, describeProblems(report));
  });
});
