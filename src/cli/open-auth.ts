/** Opens the security state of a database for the `clients`, `keys` and `signing-keys` commands. */
import { Auth } from '../auth/auth.js';
import { fromEnv, resolveConfig } from '../config/config.js';
import { openStore } from '../store/open.js';

/** The Auth of `--db` (else `CARTE_DB`, else `./carte.db`), configured from `CARTE_*`; close it when done. */
export async function openAuth(db: string | undefined): Promise<{ auth: Auth; close: () => Promise<void> }> {
  const config = resolveConfig(undefined, fromEnv(process.env), db ? { db } : {});
  const store = await openStore(config.db, { durability: config.durability });
  return { auth: new Auth(store.auth, config, null), close: () => store.close() };
}

/** Rows as aligned columns, a header first. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ');
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}
