/** `carte signing-keys list|rotate`: the asymmetric keys access tokens are signed with (SPEC §8). */
import { parseArgs } from 'node:util';
import { openAuth, table } from '../open-auth.js';
import { paint, UsageError, type Command } from '../output.js';

const USAGE = `carte signing-keys list [--db URL] [--json]
carte signing-keys rotate [--db URL]

  list     the ES256 keys of the database: id (kid), created, retired (private keys are never shown)
  rotate   new tokens are signed with a new key at once, also by a running server; the old
           key stays in /oauth/jwks.json and keeps verifying until its last token expires
  --db     ./carte.db (default; CARTE_DB), sqlite:PATH
  CARTE_AUTH_SECRET, when set, encrypts the private keys at rest (AES-256-GCM)`;

export const signingKeysCommand: Command = {
  name: 'signing-keys',
  summary: 'list and rotate the keys access tokens are signed with',
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { db: { type: 'string' }, json: { type: 'boolean' } } });
    const [action, ...extra] = positionals;
    if (!action || extra.length > 0) throw new UsageError(USAGE);
    const { auth, close } = await openAuth(values.db);
    try {
      if (action === 'list') {
        const keys = await auth.keys.list();
        if (values.json) process.stdout.write(`${JSON.stringify(keys.map((k) => ({ kid: k.kid, alg: k.alg, created_at: k.createdAt, retired_at: k.retiredAt })))}\n`);
        else if (keys.length === 0) process.stdout.write('No signing key yet: the first token creates one (or run carte signing-keys rotate).\n');
        else process.stdout.write(table(['KID', 'ALG', 'CREATED', 'STATUS'], keys.map((k) => [k.kid, k.alg, k.createdAt, k.retiredAt ? `retired ${k.retiredAt}` : 'signing'])));
        return 0;
      }
      if (action === 'rotate') {
        const key = await auth.keys.rotate();
        process.stdout.write(`${paint.green('✓')} new signing key ${key.kid}; earlier keys stay published until their tokens expire.\n`);
        return 0;
      }
      throw new UsageError(`carte signing-keys: unknown action '${action}'\n\n${USAGE}`);
    } finally {
      await close();
    }
  },
};
