/** `carte keys create|list|revoke`: API keys for scripts, sent as bearer tokens (SPEC §8). */
import { parseArgs } from 'node:util';
import { parseScopes } from '../../auth/clients.js';
import { openAuth, table } from '../open-auth.js';
import { paint, UsageError, type Command } from '../output.js';

const USAGE = `carte keys create --name N --scopes "a b" [--subject S] [--expires WHEN] [--db URL] [--json]
carte keys list [--db URL] [--json]
carte keys revoke KEY_ID [--db URL]

  create   makes an API key (Authorization: Bearer ck_…); printed once, stored as a scrypt hash
           --scopes   the scopes it carries, space-separated ("*" = every scope)
           --subject  its subject (owner rules compare it); default: key:<id>
           --expires  an ISO 8601 date, or a duration: 30d, 12h
           --json     print {"id","key"}
  list     every key, with its scopes and status (never a secret)
  revoke   the key stops working at once
  --db     ./carte.db (default; CARTE_DB), sqlite:PATH`;

/** `30d`, `12h`, `45m` or an ISO 8601 date → an instant. */
export function parseExpiry(value: string, now = Date.now()): string {
  const m = /^(\d{1,6})([dhm])$/.exec(value);
  if (m) return new Date(now + Number(m[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[m[2] as 'd' | 'h' | 'm']).toISOString();
  const t = Date.parse(value);
  if (!Number.isFinite(t) || !/^\d{4}-\d{2}-\d{2}/.test(value)) throw new UsageError(`carte keys create: --expires takes a date (2030-01-31) or a duration (30d, 12h), not '${value}'`);
  if (t <= now) throw new UsageError('carte keys create: --expires is in the past');
  return new Date(t).toISOString();
}

export const keysCommand: Command = {
  name: 'keys',
  summary: 'create, list and revoke API keys (bearer tokens for scripts)',
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { name: { type: 'string' }, scopes: { type: 'string' }, subject: { type: 'string' }, expires: { type: 'string' }, db: { type: 'string' }, json: { type: 'boolean' } },
    });
    const [action, id, ...extra] = positionals;
    if (!action || extra.length > 0) throw new UsageError(USAGE);
    if (action === 'create') {
      if (!values.name) throw new UsageError('carte keys create: --name is required');
      if (values.scopes === undefined) throw new UsageError('carte keys create: --scopes is required (e.g. --scopes "orders:read")');
      const scopes = parseScopes(values.scopes, (m) => new UsageError(`carte keys create: ${m}`));
      const expiresAt = values.expires ? parseExpiry(values.expires) : null;
      const { auth, close } = await openAuth(values.db);
      try {
        const { key, record } = await auth.apiKeys.create({ name: values.name, scopes, expiresAt, ...(values.subject ? { subject: values.subject } : {}) });
        if (values.json) process.stdout.write(`${JSON.stringify({ id: record.id, key })}\n`);
        else {
          process.stdout.write(
            `${paint.green('✓')} API key ${paint.bold(values.name)} created. It is shown once: keep it now.\n` +
              `  id       ${record.id}\n  key      ${key}\n  scopes   ${scopes.join(' ') || '(none)'}\n  subject  ${record.subject ?? `key:${record.id}`}\n` +
              `  expires  ${record.expiresAt ?? 'never'}\n\nUse it:  curl -H 'Authorization: Bearer ${key}' http://127.0.0.1:3000/v1\n`,
          );
        }
        return 0;
      } finally {
        await close();
      }
    }
    if (action === 'list') {
      const { auth, close } = await openAuth(values.db);
      try {
        const keys = await auth.apiKeys.list();
        if (values.json) {
          const out = keys.map((k) => ({ id: k.id, name: k.name, scopes: k.scopes, subject: k.subject ?? `key:${k.id}`, created_at: k.createdAt, expires_at: k.expiresAt, revoked_at: k.revokedAt }));
          process.stdout.write(`${JSON.stringify(out)}\n`);
        } else if (keys.length === 0) {
          process.stdout.write('No API keys yet: carte keys create --name N --scopes "a b"\n');
        } else {
          const now = Date.now();
          const status = (k: (typeof keys)[number]) =>
            k.revokedAt ? `revoked ${k.revokedAt}` : k.expiresAt && Date.parse(k.expiresAt) <= now ? `expired ${k.expiresAt}` : k.expiresAt ? `active until ${k.expiresAt}` : 'active';
          process.stdout.write(table(['ID', 'NAME', 'SCOPES', 'SUBJECT', 'CREATED', 'STATUS'], keys.map((k) => [k.id, k.name, k.scopes.join(' '), k.subject ?? `key:${k.id}`, k.createdAt, status(k)])));
        }
        return 0;
      } finally {
        await close();
      }
    }
    if (action === 'revoke') {
      if (!id) throw new UsageError('usage: carte keys revoke KEY_ID [--db URL]');
      const { auth, close } = await openAuth(values.db);
      try {
        if (!(await auth.apiKeys.revoke(id))) {
          process.stderr.write(`${paint.red(`carte keys revoke: there is no active API key '${id}'`)}\n`);
          return 1;
        }
        process.stdout.write(`${paint.green('✓')} API key ${id} revoked.\n`);
        return 0;
      } finally {
        await close();
      }
    }
    throw new UsageError(`carte keys: unknown action '${action}'\n\n${USAGE}`);
  },
};
