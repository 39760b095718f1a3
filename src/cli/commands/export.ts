/**
 * `carte export RESOURCE`: every item of a resource as a JSON array, NDJSON or CSV, read
 * through the resource service page by page (keyset cursor), so memory stays flat.
 */
import { open } from 'node:fs/promises';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { stringify } from 'csv-stringify/sync';
import type { ResourceModel } from '../../schema/types.js';
import { openService } from '../open-service.js';
import { paint, UsageError, type Command } from '../output.js';
import { DATA_FORMATS, formatOf, type DataFormat } from '../records.js';
import { schemaFileOf } from '../schema-file.js';

const USAGE = `carte export RESOURCE [--schema FILE] [--db URL] [--format json|ndjson|csv] [--out FILE]

  Writes every item of RESOURCE, in id order, to stdout or --out FILE: a JSON array
  (default), NDJSON (one item per line) or CSV (a header line; arrays and objects as JSON
  text; null as an empty cell). What it writes, 'carte import' reads back.

  --schema FILE  the schema (default ./carte.yaml)
  --db URL       ./carte.db (default; CARTE_DB), sqlite:PATH, postgres://…
  --format F     json, ndjson or csv (default: from --out's extension, else json)
  --out FILE     write to FILE instead of stdout`;

export const exportCommand: Command = {
  name: 'export',
  summary: 'write every item of a resource as JSON, NDJSON or CSV',
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { schema: { type: 'string' }, db: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' } },
    });
    const [resourceName, ...extra] = positionals;
    if (!resourceName || extra.length > 0) throw new UsageError(`usage: ${USAGE.split('\n')[0]}`);
    let format: DataFormat = 'json';
    if (values.format !== undefined || values.out !== undefined) {
      try {
        format = formatOf(values.out ?? '', values.format);
      } catch (e) {
        if (values.format !== undefined) throw e;
        throw new UsageError(`cannot tell the format of ${values.out} from its extension: add --format ${DATA_FORMATS.join('|')}`);
      }
    }
    const opened = await openService(schemaFileOf(values.schema), values.db);
    try {
      const resource = opened.model.resources.get(resourceName);
      if (!resource) throw new UsageError(`carte export: there is no resource '${resourceName}' (the schema has ${[...opened.model.resources.keys()].join(', ')})`, 1);
      // Opened first, so that a path that cannot be written is a plain error, not a stream crash.
      const out: Writable = values.out ? (await open(values.out, 'w')).createWriteStream() : process.stdout;
      const write = async (chunk: string) => {
        if (!out.write(chunk)) await once(out, 'drain');
      };
      const columns = csvColumns(resource);
      let exported = 0;
      let after: string | undefined;
      if (format === 'json') await write('[');
      if (format === 'csv') await write(stringify([columns]));
      for (;;) {
        const page = await opened.service.list(opened.ctx, resource.name, { limit: resource.maxRange, count: 'none', ...(after ? { after } : {}) });
        if (format === 'csv') {
          if (page.items.length > 0) await write(stringify(page.items.map((item) => columns.map((c) => csvCell(item[c])))));
        } else {
          const text = page.items.map((item) => JSON.stringify(item));
          if (text.length > 0) await write(format === 'json' ? `${exported > 0 ? ',' : ''}\n${text.join(',\n')}` : `${text.join('\n')}\n`);
        }
        exported += page.items.length;
        if (!page.nextCursor) break;
        after = page.nextCursor;
      }
      if (format === 'json') await write(exported > 0 ? '\n]\n' : ']\n');
      if (values.out) {
        out.end();
        await once(out, 'finish');
        process.stderr.write(`${paint.green('✓', process.stderr)} exported ${exported} ${exported === 1 ? resource.singular : resource.name} to ${values.out}.\n`);
      }
      return 0;
    } finally {
      await opened.close();
    }
  },
};

/** The key, then every field a CSV cell can hold (blobs are left out: they are files). */
function csvColumns(resource: ResourceModel): string[] {
  return ['id', ...resource.fieldList.filter((f) => f.type !== 'blob').map((f) => f.name)];
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
