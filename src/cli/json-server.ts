/**
 * json-server style files for `carte serve db.json` and `carte infer db.json`: read the
 * file, infer the schema, and load its items into a new database through the service.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { inferApi, isJsonServerData, type InferredApi } from '../schema/infer.js';
import { ImportItemError, type ResourceService } from '../service/resource-service.js';
import type { CallContext } from '../service/types.js';
import { UsageError } from './output.js';

/** The file holds json-server data (not a Carte schema in JSON). */
export function looksLikeJsonServerFile(file: string): boolean {
  if (!file.toLowerCase().endsWith('.json')) return false;
  try {
    return isJsonServerData(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return false; // let the schema loader report what is wrong with it
  }
}

export function inferFile(file: string): InferredApi {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`, 1);
  }
  if (!isJsonServerData(data)) throw new UsageError(`${file} is not a json-server database: expected an object whose members are collections (arrays of objects)`, 1);
  const name = path.basename(file).replace(/\.json$/i, '');
  return inferApi(data, name.charAt(0).toUpperCase() + name.slice(1));
}

/** The inferred schema as YAML, the notes as comments above it: ready to be taken over. */
export function schemaYaml(file: string, inferred: InferredApi): string {
  const header = [`# Inferred by 'carte infer' from ${path.basename(file)}. Edit it, then: carte serve THIS.yaml`, ...inferred.notes.map((n) => `# note: ${n}`)];
  return `${header.join('\n')}\n${stringify(inferred.spec)}`;
}

/** SQLite file next to the data file: `db.json` → `db.carte.db`. */
export function defaultDbFor(file: string): string {
  return path.join(path.dirname(file), `${path.basename(file).replace(/\.json$/i, '')}.carte.db`);
}

/** Loads every collection, referenced ones first, one transaction each. */
export async function importInferred(service: ResourceService, ctx: CallContext, inferred: InferredApi, file: string): Promise<number> {
  let total = 0;
  for (const c of inferred.collections) {
    try {
      total += await service.importBatch(ctx, c.resource, c.items);
    } catch (e) {
      if (!(e instanceof ImportItemError)) throw e;
      const details = (e.error.errors ?? []).map((p) => p.error_description).join('; ') || e.error.message;
      throw new UsageError(`${file}: ${c.source}[${e.index}] cannot be imported: ${details}`, 1);
    }
  }
  return total;
}
