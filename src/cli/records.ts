/**
 * Reads the items of a data file for `carte import`, one at a time and with the line each
 * starts on: NDJSON and CSV are streamed (memory stays flat whatever the size); a JSON
 * array is read whole, up to a configurable size (NDJSON is the format for larger files).
 */
import { createReadStream, type ReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Transform } from 'node:stream';
import { parse as parseCsv, type Info } from 'csv-parse';
import type { ResourceModel } from '../schema/types.js';
import { UsageError } from './output.js';

export type DataFormat = 'json' | 'ndjson' | 'csv';
export const DATA_FORMATS: readonly DataFormat[] = ['json', 'ndjson', 'csv'];

/** An item read from the file, or why the text at that line is not one. */
export type DataRecord = { readonly line: number; readonly value: unknown } | { readonly line: number; readonly error: string };

export interface RecordSource {
  /** Bytes of the file read so far and in all (progress). */
  progress(): { readonly done: number; readonly total: number };
  records(): AsyncGenerator<DataRecord>;
}

/** `.json` → json, `.ndjson`/`.jsonl` → ndjson, `.csv` → csv; otherwise `--format` must say. */
export function formatOf(file: string, given: string | undefined): DataFormat {
  if (given !== undefined) {
    if (!(DATA_FORMATS as readonly string[]).includes(given)) throw new UsageError(`--format must be one of ${DATA_FORMATS.join(', ')}`);
    return given as DataFormat;
  }
  const ext = /\.([a-z]+)$/i.exec(file)?.[1]?.toLowerCase();
  if (ext === 'json') return 'json';
  if (ext === 'ndjson' || ext === 'jsonl') return 'ndjson';
  if (ext === 'csv') return 'csv';
  throw new UsageError(`cannot tell the format of ${file} from its extension: add --format ${DATA_FORMATS.join('|')}`);
}

export interface SourceOptions {
  /** Largest JSON array file read whole (bytes). */
  readonly maxJsonBytes: number;
  /** Longest NDJSON line or CSV record (bytes): a file without line breaks cannot fill the memory. */
  readonly maxLineBytes: number;
}

export async function openRecords(file: string, format: DataFormat, resource: ResourceModel, options: SourceOptions): Promise<RecordSource> {
  let total: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new UsageError(`${file} is not a file`, 1);
    total = info.size;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`, 1);
  }
  if (format === 'json') {
    if (total > options.maxJsonBytes) {
      throw new UsageError(
        `${file} is ${total} bytes; JSON arrays are read whole, up to ${options.maxJsonBytes} bytes (--max-json-bytes). Convert it to NDJSON (one item per line), which is streamed: jq -c '.[]' ${file} > items.ndjson`,
        1,
      );
    }
    let done = 0;
    return {
      progress: () => ({ done, total }),
      async *records() {
        const text = await readFile(file, 'utf8');
        done = total;
        yield* jsonArrayRecords(text);
      },
    };
  }
  let stream: ReadStream | null = null;
  const progress = () => ({ done: stream?.bytesRead ?? 0, total });
  if (format === 'ndjson') {
    return {
      progress,
      async *records() {
        stream = createReadStream(file);
        const lines = createInterface({ input: stream.pipe(lineGuard(options.maxLineBytes)), crlfDelay: Infinity });
        let line = 0;
        try {
          for await (const text of lines) {
            line += 1;
            if (text.trim() === '') continue;
            try {
              yield { line, value: parseJson(text) };
            } catch (e) {
              yield { line, error: `not valid JSON: ${(e as Error).message}` };
            }
          }
        } catch (e) {
          if (e instanceof LineTooLongError) throw new MalformedFileError(`${file}:${e.line}: ${e.message}`);
          throw e;
        } finally {
          stream.destroy();
        }
      },
    };
  }
  return {
    progress,
    async *records() {
      stream = createReadStream(file);
      const parser = stream.pipe(parseCsv({ columns: true, bom: true, skip_empty_lines: true, info: true, trim: false, max_record_size: options.maxLineBytes }));
      try {
        for await (const entry of parser as AsyncIterable<{ record: { [column: string]: string }; info: Info }>) {
          yield { line: entry.info.lines, value: convertCsvRecord(entry.record, resource) };
        }
      } catch (e) {
        // A malformed CSV cannot be read past the fault: it ends the file.
        const lines = (e as { lines?: number }).lines;
        throw new MalformedFileError(`${file}${lines ? `:${lines}` : ''}: malformed CSV: ${(e as Error).message}`);
      } finally {
        stream.destroy();
      }
    },
  };
}

class LineTooLongError extends Error {
  constructor(
    readonly line: number,
    max: number,
  ) {
    super(`a line is longer than ${max} bytes (--max-line-bytes)`);
  }
}

/** Passes bytes through, failing once a line grows past `max` bytes (readline would buffer it whole). */
function lineGuard(max: number): Transform {
  let current = 0;
  let line = 1;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
        current += nl - start;
        if (current > max) return done(new LineTooLongError(line, max));
        current = 0;
        line += 1;
        start = nl + 1;
      }
      current += chunk.length - start;
      if (current > max) return done(new LineTooLongError(line, max));
      done(null, chunk);
    },
  });
}

/** JSON.parse, refusing `__proto__` members as the API's body parser does (prototype poisoning). */
function parseJson(text: string): unknown {
  if (!text.includes('"__proto__"')) return JSON.parse(text) as unknown;
  return JSON.parse(text, (key, value: unknown) => {
    if (key === '__proto__') throw new SyntaxError('a "__proto__" member is not allowed');
    return value;
  }) as unknown;
}

/** The file cannot be read to its end (malformed CSV, not a JSON array). */
export class MalformedFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedFileError';
  }
}

/** The items of a JSON array, each with the line it starts on. */
function* jsonArrayRecords(text: string): Generator<DataRecord> {
  let items: unknown;
  try {
    items = parseJson(text);
  } catch (e) {
    throw new MalformedFileError(`not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(items)) throw new MalformedFileError('a .json file to import must hold one JSON array of items (or use NDJSON: one item per line)');
  const lines = elementLines(text);
  for (const [i, value] of items.entries()) yield { line: lines[i] ?? 1, value };
}

/** Line of the start of each element of the top-level array (a scan of brackets and strings, after JSON.parse accepted it). */
function elementLines(text: string): number[] {
  const out: number[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let expectValue = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) line += 1;
    if (inString) {
      if (c === 92) i += 1; // backslash: skip the escaped character
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 32 || c === 9 || c === 10 || c === 13) continue;
    if (depth === 1 && expectValue && c !== 93) {
      out.push(line);
      expectValue = false;
    }
    if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      depth += 1;
      if (depth === 1) expectValue = true;
    } else if (c === 93 || c === 125) depth -= 1;
    else if (c === 44 && depth === 1) expectValue = true;
  }
  return out;
}

/**
 * A CSV row as a JSON item, typed by the schema: numbers, booleans (true/false/1/0),
 * arrays and objects (JSON text in the cell). An empty cell is an absent value. A cell that
 * does not convert is passed on as text, so validation names the field and what it expects.
 */
export function convertCsvRecord(record: { readonly [column: string]: string }, resource: ResourceModel): { [k: string]: unknown } {
  const out: { [k: string]: unknown } = {};
  for (const [column, cell] of Object.entries(record)) {
    if (cell === '') continue;
    const type = column === 'id' ? (resource.key.type === 'integer' ? 'integer' : 'string') : resource.fields.get(column)?.type;
    out[column] = convertCell(cell, type);
  }
  return out;
}

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function convertCell(cell: string, type: string | undefined): unknown {
  switch (type) {
    case 'integer':
    case 'number':
      return NUMBER.test(cell.trim()) ? Number(cell.trim()) : cell;
    case 'boolean': {
      const v = cell.trim().toLowerCase();
      return v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : cell;
    }
    case 'array':
    case 'object':
      try {
        return JSON.parse(cell) as unknown;
      } catch {
        return cell;
      }
    default:
      return cell;
  }
}
