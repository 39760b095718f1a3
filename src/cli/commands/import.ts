/**
 * `carte import RESOURCE FILE`: bulk load from JSON, NDJSON or CSV through the resource
 * service — the same validation, defaults, references and events as the API — in batched
 * transactions. By default every row is checked first and a bad row imports nothing.
 */
import { parseArgs } from 'node:util';
import type { FieldError } from '../../errors.js';
import { ImportItemError } from '../../service/resource-service.js';
import { openService, type OpenedService } from '../open-service.js';
import { paint, UsageError, type Command } from '../output.js';
import { progressBar, type Progress } from '../progress.js';
import { formatOf, MalformedFileError, openRecords, type DataRecord, type RecordSource } from '../records.js';
import { schemaFileOf } from '../schema-file.js';

const USAGE = `carte import RESOURCE FILE [--schema FILE] [--db URL] [--format json|ndjson|csv]
                [--batch-size N] [--skip-invalid] [--max-errors N] [--max-json-bytes N] [--max-line-bytes N]

  Loads the items of FILE into RESOURCE through the same service as the API: each item is
  validated, given its defaults, and its references checked; its events are recorded.
  An item's id is kept when it has one (an existing id is a conflict), otherwise assigned.

  FILE              .json (one array of items), .ndjson/.jsonl (one item per line), .csv
                    (a header line naming the fields; cells typed by the schema; an empty
                    cell is an absent value; arrays and objects as JSON text)
  --schema FILE     the schema (default ./carte.yaml)
  --db URL          ./carte.db (default; CARTE_DB), sqlite:PATH, postgres://…
  --format F        when the extension does not tell
  --batch-size N    items per transaction (default 1000; 0 = the whole file in one)
  --skip-invalid    import the valid items and report the others (exit 0)
  --max-errors N    invalid items listed (default 20; all are counted)
  --max-json-bytes N  largest .json file read (default 268435456); NDJSON and CSV are streamed
  --max-line-bytes N  longest NDJSON line or CSV record (default 16777216)

  Without --skip-invalid every item is checked before any is written: one invalid item
  (its line and errors are printed) and nothing is imported, exit 1. A progress bar is
  drawn when stdout is a terminal; otherwise one summary line.`;

interface Rejected {
  readonly line: number;
  readonly messages: readonly string[];
}

export const importCommand: Command = {
  name: 'import',
  summary: 'bulk load items from JSON, NDJSON or CSV (validated, batched, with events)',
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        schema: { type: 'string' },
        db: { type: 'string' },
        format: { type: 'string' },
        'batch-size': { type: 'string' },
        'skip-invalid': { type: 'boolean' },
        'max-errors': { type: 'string' },
        'max-json-bytes': { type: 'string' },
        'max-line-bytes': { type: 'string' },
      },
    });
    const [resourceName, file, ...extra] = positionals;
    if (!resourceName || !file || extra.length > 0) throw new UsageError(`usage: ${USAGE.split('\n')[0]}`);
    const format = formatOf(file, values.format);
    const batchSize = count(values['batch-size'], '--batch-size', 1000, 0);
    const maxErrors = count(values['max-errors'], '--max-errors', 20, 0);
    const maxJsonBytes = count(values['max-json-bytes'], '--max-json-bytes', 256 * 1024 * 1024, 1);
    const maxLineBytes = count(values['max-line-bytes'], '--max-line-bytes', 16 * 1024 * 1024, 1);
    const skipInvalid = values['skip-invalid'] === true;
    const opened = await openService(schemaFileOf(values.schema), values.db);
    try {
      const resource = opened.model.resources.get(resourceName);
      if (!resource) throw new UsageError(`carte import: there is no resource '${resourceName}' (the schema has ${[...opened.model.resources.keys()].join(', ')})`, 1);
      const source = await openRecords(file, format, resource, { maxJsonBytes, maxLineBytes });
      const started = Date.now();
      const report = (rejected: readonly Rejected[]) => {
        for (const r of rejected.slice(0, maxErrors)) for (const m of r.messages) process.stderr.write(`${paint.red(`${file}:${r.line}:`)} ${m}\n`);
        if (rejected.length > maxErrors) process.stderr.write(`… and ${rejected.length - maxErrors} more invalid item${rejected.length - maxErrors === 1 ? '' : 's'}\n`);
      };
      if (!skipInvalid) {
        const rejected = await checkAll(opened, resourceName, source);
        if (rejected.length > 0) {
          report(rejected);
          process.stderr.write(`${rejected.length} invalid item${rejected.length === 1 ? '' : 's'} in ${file}: nothing imported (--skip-invalid imports the others).\n`);
          return 1;
        }
      }
      const outcome = await load(opened, resourceName, source, { batchSize, skipInvalid });
      const seconds = (Date.now() - started) / 1000;
      if (outcome.failed) {
        report([outcome.failed]);
        process.stderr.write(
          `The database refused the item at line ${outcome.failed.line}; the import stopped.${outcome.imported > 0 ? ` ${outcome.imported} item${outcome.imported === 1 ? '' : 's'} of earlier batches stay imported.` : ' Nothing was imported.'}\n`,
        );
        return 1;
      }
      report(outcome.rejected);
      const rate = Math.round(outcome.imported / Math.max(seconds, 0.001));
      process.stdout.write(
        `${paint.green('✓')} imported ${outcome.imported} ${outcome.imported === 1 ? resource.singular : resource.name} from ${file} in ${seconds.toFixed(1)} s (${rate} items/s)` +
          (outcome.rejected.length > 0 ? `; skipped ${outcome.rejected.length} invalid item${outcome.rejected.length === 1 ? '' : 's'} (line${outcome.rejected.length === 1 ? '' : 's'} ${lineList(outcome.rejected)})` : '') +
          '.\n',
      );
      return 0;
    } catch (e) {
      if (e instanceof MalformedFileError) {
        process.stderr.write(`${paint.red(e.message)}\nNothing more was read from ${file}.\n`);
        return 1;
      }
      throw e;
    } finally {
      await opened.close();
    }
  },
};

function count(raw: string | undefined, name: string, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`${name} must be an integer ≥ ${min}`);
  return n;
}

function lineList(rejected: readonly Rejected[]): string {
  const lines = rejected.slice(0, 10).map((r) => String(r.line));
  return rejected.length > 10 ? `${lines.join(', ')}, …` : lines.join(', ');
}

function messagesOf(problems: readonly FieldError[], fallback: string): string[] {
  return problems.length > 0 ? problems.map((p) => `${p.error_description}${p.field ? ` (${p.field}: ${p.error})` : ''}`) : [fallback];
}

/**
 * The loop of both passes: every record of the source in order, the progress bar advanced,
 * and a record the file could not give added to `rejected`. The others go to `onValid`;
 * its first answer other than `undefined` stops the reading and is returned.
 */
async function eachRecord<T>(
  source: RecordSource,
  bar: Progress,
  rejected: Rejected[],
  onValid: (record: Exclude<DataRecord, { readonly error: string }>) => T | undefined | Promise<T | undefined>,
): Promise<T | undefined> {
  let rows = 0;
  for await (const record of source.records()) {
    rows += 1;
    const p = source.progress();
    bar.update(p.done, p.total, rows);
    if ('error' in record) {
      rejected.push({ line: record.line, messages: [record.error] });
      continue;
    }
    const answer = await onValid(record);
    if (answer !== undefined) return answer;
  }
  return undefined;
}

/** The first pass: every item parsed and validated, nothing written. */
async function checkAll(opened: OpenedService, resourceName: string, source: RecordSource): Promise<Rejected[]> {
  const rejected: Rejected[] = [];
  const ids = new Set<string>();
  const bar = progressBar('checking ');
  try {
    await eachRecord(source, bar, rejected, (record) => {
      const { id, problems } = opened.service.checkImportItem(resourceName, record.value);
      if (problems.length > 0) rejected.push({ line: record.line, messages: messagesOf(problems, 'invalid item') });
      else if (id !== null) {
        if (ids.has(String(id))) rejected.push({ line: record.line, messages: [`The id ${String(id)} appears twice in the file (id: duplicate)`] });
        ids.add(String(id));
      }
      return undefined;
    });
  } finally {
    bar.end();
  }
  return rejected;
}

/** The second pass: batches through the service, one transaction each. */
async function load(
  opened: OpenedService,
  resourceName: string,
  source: RecordSource,
  options: { batchSize: number; skipInvalid: boolean },
): Promise<{ imported: number; rejected: Rejected[]; failed: Rejected | null }> {
  const rejected: Rejected[] = [];
  let imported = 0;
  let batch: { line: number; value: unknown }[] = [];
  const bar = progressBar('importing');
  // Returns the refused item when the import must stop.
  const flush = async (): Promise<Rejected | null> => {
    while (batch.length > 0) {
      try {
        imported += await opened.service.importBatch(opened.ctx, resourceName, batch.map((b) => b.value));
        batch = [];
      } catch (e) {
        if (!(e instanceof ImportItemError)) throw e;
        const bad = batch[e.index] as { line: number };
        const refused = { line: bad.line, messages: messagesOf(e.error.errors ?? [], e.error.message) };
        if (!options.skipInvalid) return refused;
        // The batch was rolled back: again without the refused item.
        rejected.push(refused);
        batch.splice(e.index, 1);
      }
    }
    return null;
  };
  try {
    const stopped = await eachRecord(source, bar, rejected, async (record) => {
      if (options.skipInvalid) {
        // Items that cannot pass are set aside before the batch, so that a batch rarely runs twice.
        const { problems } = opened.service.checkImportItem(resourceName, record.value);
        if (problems.length > 0) {
          rejected.push({ line: record.line, messages: messagesOf(problems, 'invalid item') });
          return undefined;
        }
      }
      batch.push({ line: record.line, value: record.value });
      if (options.batchSize > 0 && batch.length >= options.batchSize) return (await flush()) ?? undefined;
      return undefined;
    });
    if (stopped) return { imported, rejected, failed: stopped };
    const failed = await flush();
    return { imported, rejected, failed };
  } finally {
    bar.end();
  }
}
