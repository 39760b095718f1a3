/** `carte clients create|list|revoke`: OAuth2 clients of the client_credentials grant (SPEC §1, §8). */
import { parseArgs } from 'node:util';
import { parseScopes } from '../../auth/clients.js';
import { openAuth, table } from '../open-auth.js';
import { paint, UsageError, type Command } from '../output.js';

const USAGE = `carte clients create --name N --scopes "a b" [--subject S] [--db URL] [--json]
carte clients list [--db URL] [--json]
carte clients revoke CLIENT_ID [--db URL]

  create   registers a client; its secret is printed once (stored as a scrypt hash).
           --scopes   the scopes it may ask for, space-separated ("*" = every scope)
           --subject  the sub of its tokens (owner rules compare it); default: the client id
           --json     print {"client_id","client_secret"}
  list     every client, with its scopes and whether it is revoked (never a secret)
  revoke   the client and every token it holds stop working at once
  --db     ./carte.db (default; CARTE_DB), sqlite:PATH`;

export const clientsCommand: Command = {
  name: 'clients',
  summary: 'create, list and revoke OAuth2 clients (client_credentials)',
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { name: { type: 'string' }, scopes: { type: 'string' }, subject: { type: 'string' }, db: { type: 'string' }, json: { type: 'boolean' } },
    });
    const [action, id, ...extra] = positionals;
    if (!action || extra.length > 0) throw new UsageError(USAGE);
    if (action === 'create') {
      if (!values.name) throw new UsageError('carte clients create: --name is required');
      if (values.scopes === undefined) throw new UsageError('carte clients create: --scopes is required (e.g. --scopes "orders:read orders:write")');
      const scopes = parseScopes(values.scopes, (m) => new UsageError(`carte clients create: ${m}`));
      const { auth, close } = await openAuth(values.db);
      try {
        const created = await auth.clients.create({ name: values.name, scopes, ...(values.subject ? { subject: values.subject } : {}) });
        if (values.json) {
          process.stdout.write(`${JSON.stringify({ client_id: created.clientId, client_secret: created.clientSecret })}\n`);
        } else {
          process.stdout.write(
            `${paint.green('✓')} client ${paint.bold(values.name)} created. The secret is shown once: keep it now.\n` +
              `  client_id      ${created.clientId}\n  client_secret  ${created.clientSecret}\n  scopes         ${scopes.join(' ') || '(none)'}\n` +
              `  subject        ${created.record.subject ?? created.clientId}\n\n` +
              `Get a token:  curl -s -u '${created.clientId}:${created.clientSecret}' -d grant_type=client_credentials http://127.0.0.1:3000/oauth/token\n`,
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
        const clients = await auth.clients.list();
        if (values.json) {
          const out = clients.map((c) => ({ client_id: c.id, name: c.name, scopes: c.scopes, subject: c.subject ?? c.id, created_at: c.createdAt, revoked_at: c.revokedAt }));
          process.stdout.write(`${JSON.stringify(out)}\n`);
        } else if (clients.length === 0) {
          process.stdout.write('No clients yet: carte clients create --name N --scopes "a b"\n');
        } else {
          process.stdout.write(
            table(
              ['CLIENT_ID', 'NAME', 'SCOPES', 'SUBJECT', 'CREATED', 'STATUS'],
              clients.map((c) => [c.id, c.name, c.scopes.join(' '), c.subject ?? c.id, c.createdAt, c.revokedAt ? `revoked ${c.revokedAt}` : 'active']),
            ),
          );
        }
        return 0;
      } finally {
        await close();
      }
    }
    if (action === 'revoke') {
      if (!id) throw new UsageError('usage: carte clients revoke CLIENT_ID [--db URL]');
      const { auth, close } = await openAuth(values.db);
      try {
        if (!(await auth.clients.revoke(id))) {
          process.stderr.write(`${paint.red(`carte clients revoke: there is no active client '${id}'`)}\n`);
          return 1;
        }
        process.stdout.write(`${paint.green('✓')} client ${id} revoked; its tokens no longer work.\n`);
        return 0;
      } finally {
        await close();
      }
    }
    throw new UsageError(`carte clients: unknown action '${action}'\n\n${USAGE}`);
  },
};
