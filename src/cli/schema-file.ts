/** Which schema a data command works with: `--schema FILE`, else `./carte.yaml` (what `carte init` writes). */
import { existsSync } from 'node:fs';
import { UsageError } from './output.js';

export function schemaFileOf(given: string | undefined): string {
  if (given !== undefined) return given;
  for (const candidate of ['carte.yaml', 'carte.yml', 'carte.json']) if (existsSync(candidate)) return candidate;
  throw new UsageError('no schema: name it with --schema FILE (or run the command where carte.yaml is)');
}
