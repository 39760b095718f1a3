/**
 * A copy-paste cURL command for an operation of the OpenAPI document (seed 004: "illustrate
 * every call with cURL examples that can be copied and pasted"): the server URL, the path
 * with example ids, the query an operation needs, `Authorization: Bearer $TOKEN` where the
 * operation requires a token, and a real example body of the first media type it accepts.
 */
import type { OpenApiDocument, OpenApiObject } from '../document.js';

export interface CurlOperation {
  readonly method: string;
  readonly path: string;
  readonly operation: OpenApiObject;
  /** The server the path is relative to (a path-level `servers`, else the document's). */
  readonly server: string;
}

/** Follows a local `$ref` (`#/components/parameters/X`). */
export function resolve(doc: OpenApiDocument, value: unknown): OpenApiObject {
  let node = value as OpenApiObject;
  for (let i = 0; i < 8 && node && typeof node.$ref === 'string'; i++) {
    const parts = (node.$ref as string).replace(/^#\//, '').split('/');
    let target: unknown = doc;
    for (const part of parts) target = (target as OpenApiObject | undefined)?.[part];
    node = target as OpenApiObject;
  }
  return node ?? {};
}

/** POSIX shell single quotes: `it's` → `'it'\''s'`. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Whether the operation can be called without a token (`{}` among its security requirements). */
export function isAnonymous(doc: OpenApiDocument, operation: OpenApiObject): boolean {
  const security = (operation.security ?? doc.security) as readonly Record<string, unknown>[];
  return security.length === 0 || security.some((s) => Object.keys(s).length === 0);
}

function usesBasic(operation: OpenApiObject): boolean {
  return ((operation.security ?? []) as Record<string, unknown>[]).some((s) => 'clientBasic' in s);
}

function exampleOf(param: OpenApiObject): unknown {
  if (param.example !== undefined) return param.example;
  const schema = (param.schema ?? {}) as OpenApiObject;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if (Array.isArray(schema.examples)) return schema.examples[0];
  return undefined;
}

function queryValue(value: unknown): string {
  const text = Array.isArray(value) ? value.join(',') : String(value);
  // Keep `* , ( ) [ ]` readable: they are legal in a query and what the docs talk about.
  return encodeURIComponent(text).replace(/%2C/gi, ',').replace(/%2A/gi, '*').replace(/%28/gi, '(').replace(/%29/gi, ')');
}

/** A form body (`a=1&b=2`, nested objects as `address[city]=Paris`). */
function formBody(value: unknown, prefix = ''): string[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.flatMap((v) => formBody(v, prefix));
  if (typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => formBody(v, prefix ? `${prefix}[${k}]` : k));
  return [`${prefix}=${encodeURIComponent(String(value))}`];
}

export function curlCommand(doc: OpenApiDocument, op: CurlOperation): string {
  const { operation } = op;
  const params = ((operation.parameters ?? []) as unknown[]).map((p) => resolve(doc, p));
  let path = op.path;
  const query: string[] = [];
  let pattern = false;
  for (const param of params) {
    const example = exampleOf(param);
    const name = String(param.name);
    if (param.in === 'path') path = path.replace(`{${name}}`, encodeURIComponent(String(example ?? 1)));
    // The query an operation needs, and the parameters that show what it is for (a range, a pattern).
    else if (param.in === 'query' && (param.required === true || (example !== undefined && name === 'range'))) {
      query.push(`${name}=${name === 'access_token' ? '$TOKEN' : queryValue(example ?? '')}`);
    } else if (param.in === 'query' && !pattern && example !== undefined && /\*/.test(String(example))) {
      // One search pattern: every pattern given must match.
      pattern = true;
      query.push(`${name}=${queryValue(example)}`);
    }
  }
  // A filtered DELETE needs a filter (400 without): one that shows the idea.
  if (op.method === 'delete' && !params.some((p) => p.in === 'path' && p.name === 'id')) {
    const withEnum = params.find((p) => p.in === 'query' && !String(p.name).includes('[') && Array.isArray(((p.schema as OpenApiObject | undefined)?.items as OpenApiObject | undefined)?.enum));
    const values = ((withEnum?.schema as OpenApiObject | undefined)?.items as OpenApiObject | undefined)?.enum as unknown[] | undefined;
    if (withEnum && values) query.push(`${String(withEnum.name)}=${queryValue(values[values.length - 1])}`);
    else if (params.some((p) => p.in === 'query' && p.name === 'id')) query.push('id=999999');
  }
  const url = `${op.server}${path}${query.length ? `?${query.join('&')}` : ''}`;
  const lines: string[] = [];
  const method = op.method.toUpperCase();
  lines.push(method === 'GET' ? 'curl -i' : method === 'HEAD' ? 'curl -I' : `curl -i -X ${method}`);
  if (usesBasic(operation)) lines.push('-u "$CLIENT_ID:$CLIENT_SECRET"');
  else if (!isAnonymous(doc, operation)) lines.push('-H "Authorization: Bearer $TOKEN"');
  const body = operation.requestBody ? resolve(doc, operation.requestBody) : null;
  const media = body ? Object.entries((body.content ?? {}) as Record<string, OpenApiObject>)[0] : undefined;
  if (media) {
    const [type, spec] = media;
    const example = spec.example ?? (spec.examples ? Object.values(spec.examples as Record<string, OpenApiObject>)[0]?.value : undefined);
    if (type === 'application/x-www-form-urlencoded') {
      lines.push(`-H "Content-Type: ${type}"`);
      lines.push(`-d ${shellQuote(formBody(example ?? {}).join('&'))}`);
    } else if (type.includes('json')) {
      lines.push(`-H "Content-Type: ${type}"`);
      lines.push(`-d ${shellQuote(JSON.stringify(example ?? {}))}`);
    } else {
      lines.push(`-H "Content-Type: ${type}"`);
      const ext = type.split('/')[1]?.replace('jpeg', 'jpg') ?? 'bin';
      lines.push(`--data-binary @file.${ext}`);
    }
  }
  // A URL holding $TOKEN is double-quoted so that the shell expands it.
  lines.push(url.includes('$TOKEN') ? `"${url}"` : shellQuote(url));
  return lines.join(' \\\n  ');
}
