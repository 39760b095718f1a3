/**
 * Loads a schema file — YAML, JSON, or a TypeScript/JavaScript module whose default export
 * is the schema — resolves handler references, and builds the model. Problems carry the
 * file, the path inside it and, for YAML and JSON, the line.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMap, isNode, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { buildModel, formatPath, SchemaError, type SchemaProblem } from './validate.js';
import type { ActionHandler, ActionSpec, ApiModel, ApiSpec } from './types.js';

export interface LoadedSchema {
  readonly file: string | null;
  readonly spec: ApiSpec;
  readonly model: ApiModel;
}

export interface LocatedProblem extends SchemaProblem {
  readonly line?: number;
  readonly column?: number;
}

/** Thrown when a file cannot be read or parsed at all. */
export class SchemaLoadError extends SchemaError {}

export async function loadSchemaFile(file: string): Promise<LoadedSchema> {
  const absolute = path.resolve(file);
  const ext = path.extname(absolute).toLowerCase();
  let spec: unknown;
  let locate: (p: readonly (string | number)[]) => { line?: number; column?: number } = () => ({});
  if (ext === '.yaml' || ext === '.yml' || ext === '.json') {
    let text: string;
    try {
      text = await readFile(absolute, 'utf8');
    } catch (e) {
      throw new SchemaLoadError([{ path: [], message: `cannot read the file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }], file);
    }
    // YAML is a superset of JSON: one parser gives both the value and line numbers.
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
    if (doc.errors.length > 0) {
      throw new SchemaLoadError(
        doc.errors.map((e) => {
          const pos = lineCounter.linePos(e.pos[0]);
          return { path: [], message: `${ext === '.json' ? 'JSON' : 'YAML'} syntax: ${e.message.split('\n')[0]}`, line: pos.line, column: pos.col } as LocatedProblem;
        }),
        file,
      );
    }
    spec = doc.toJS({ maxAliasCount: 100 });
    locate = (p) => locateInDocument(doc, lineCounter, p);
  } else if (['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'].includes(ext)) {
    spec = await importModuleSchema(absolute, file);
  } else {
    throw new SchemaLoadError([{ path: [], message: 'expected a .yaml, .yml, .json, .ts or .js file' }], file);
  }
  if (typeof spec === 'object' && spec !== null) await resolveHandlers(spec as ApiSpec, path.dirname(absolute), file);
  try {
    const model = buildModel(spec, file);
    return { file: absolute, spec: spec as ApiSpec, model };
  } catch (e) {
    if (e instanceof SchemaError) {
      const located: LocatedProblem[] = e.problems.map((p) => ({ ...p, ...locate(p.path) }));
      located.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
      throw new SchemaError(located, file);
    }
    throw e;
  }
}

/** Builds a model from an in-memory spec (the demo, tests, `createServer({ schema })`). */
export function loadSchemaObject(spec: ApiSpec): LoadedSchema {
  return { file: null, spec, model: buildModel(spec) };
}

async function importModuleSchema(absolute: string, file: string): Promise<unknown> {
  try {
    const url = pathToFileURL(absolute).href;
    const mod = /\.(m|c)?ts$/.test(absolute)
      ? ((await (await import('tsx/esm/api')).tsImport(url, import.meta.url)) as { default?: unknown })
      : ((await import(url)) as { default?: unknown });
    let value = mod.default;
    // tsImport of a CommonJS-transpiled module may nest the default export once more.
    if (value && typeof value === 'object' && 'default' in value && !('resources' in value)) value = (value as { default: unknown }).default;
    if (value === undefined) {
      const names = Object.keys(mod).filter((k) => k !== 'default');
      throw new Error(`the module has no default export; write \`export default defineApi({ … })\`${names.length ? ` (it exports ${names.join(', ')})` : ''}`);
    }
    return value;
  } catch (e) {
    throw new SchemaLoadError([{ path: [], message: `cannot load the module: ${(e as Error).message.split('\n')[0]}` }], file);
  }
}

/** `handler: "./handlers.js#sum"` in a YAML/JSON schema becomes the imported function. */
async function resolveHandlers(spec: ApiSpec, dir: string, file: string): Promise<void> {
  const problems: SchemaProblem[] = [];
  const visit = async (actions: Record<string, ActionSpec> | undefined, base: (string | number)[]) => {
    if (!actions || typeof actions !== 'object') return;
    for (const [name, action] of Object.entries(actions)) {
      if (!action || typeof action.handler !== 'string') continue;
      const match = /^(.+)#([A-Za-z_$][\w$]*)$/.exec(action.handler);
      if (!match) continue; // the checker reports the malformed reference
      const [, modulePath, exportName] = match as unknown as [string, string, string];
      try {
        const target = path.resolve(dir, modulePath);
        const mod = /\.(m|c)?ts$/.test(target)
          ? ((await (await import('tsx/esm/api')).tsImport(pathToFileURL(target).href, import.meta.url)) as Record<string, unknown>)
          : ((await import(pathToFileURL(target).href)) as Record<string, unknown>);
        const fn = mod[exportName] ?? (mod.default as Record<string, unknown> | undefined)?.[exportName];
        if (typeof fn !== 'function') problems.push({ path: [...base, name, 'handler'], message: `'${exportName}' is not a function exported by ${modulePath}` });
        else action.handler = fn as ActionHandler;
      } catch (e) {
        problems.push({ path: [...base, name, 'handler'], message: `cannot load ${modulePath}: ${(e as Error).message.split('\n')[0]}` });
      }
    }
  };
  await visit(spec.actions, ['actions']);
  if (spec.resources && typeof spec.resources === 'object') {
    for (const [rn, r] of Object.entries(spec.resources)) await visit(r?.actions, ['resources', rn, 'actions']);
  }
  if (problems.length > 0) throw new SchemaError(problems, file);
}

function locateInDocument(doc: Document, lineCounter: LineCounter, p: readonly (string | number)[]): { line?: number; column?: number } {
  // Walk up the path until a node exists (a missing key is reported at its parent). A
  // problem with a scalar points at the value; one with a map or list at its key.
  for (let n = p.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(p.slice(0, n), true);
    if (!isNode(node) || !node.range) continue;
    let offset = node.range[0];
    if (!isScalar(node) && n > 0) {
      const parent = n === 1 ? doc.contents : doc.getIn(p.slice(0, n - 1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === p[n - 1]);
        if (pair && isNode(pair.key) && pair.key.range) offset = pair.key.range[0];
      }
    }
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  }
  return {};
}

/** `file:line:col: path: message`, one per line, for `carte check` and start-up failures. */
export function formatProblems(error: SchemaError): string {
  const file = error.file ?? 'schema';
  return error.problems
    .map((p) => {
      const lp = p as LocatedProblem;
      const where = lp.line ? `${file}:${lp.line}:${lp.column ?? 1}` : file;
      const pathText = p.path.length ? `${formatPath(p.path)}: ` : '';
      return `${where}: ${pathText}${p.message}`;
    })
    .join('\n');
}
