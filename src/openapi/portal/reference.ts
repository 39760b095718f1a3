/**
 * The API reference page, rendered from the OpenAPI document alone (SPEC §9): resources and
 * operations in separate sections (the document's `x-tagGroups`, seed 004), each resource
 * with its fields, each operation with its parameters, body, responses and a copy-paste
 * cURL example.
 */
import type { OpenApiDocument, OpenApiObject } from '../document.js';
import { curlCommand, isAnonymous, resolve } from './curl.js';
import { escapeHtml, inline, renderMarkdown } from './markdown.js';

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete'] as const;

interface Entry {
  readonly method: (typeof METHODS)[number];
  readonly path: string;
  readonly operation: OpenApiObject;
  readonly server: string;
}

function operationsByTag(doc: OpenApiDocument): Map<string, Entry[]> {
  const out = new Map<string, Entry[]>();
  const defaultServer = String(doc.servers[0]?.url ?? '');
  for (const [path, item] of Object.entries(doc.paths)) {
    const servers = item.servers as OpenApiObject[] | undefined;
    const server = String(servers?.[0]?.url ?? defaultServer);
    for (const method of METHODS) {
      const operation = item[method] as OpenApiObject | undefined;
      if (!operation) continue;
      const tag = (operation.tags as string[] | undefined)?.[0] ?? 'Other';
      const list = out.get(tag) ?? [];
      list.push({ method, path, operation, server });
      out.set(tag, list);
    }
  }
  return out;
}

/** `integer`, `string (email)`, `array of Restaurant`, `one of thai, chinese`. */
export function typeLabel(doc: OpenApiDocument, schema: unknown): string {
  const s = (schema ?? {}) as OpenApiObject;
  if (typeof s.$ref === 'string') return s.$ref.split('/').pop() as string;
  if (Array.isArray(s.enum)) return `one of ${s.enum.filter((v) => v !== null).map((v) => String(v)).join(', ')}`;
  const types = Array.isArray(s.type) ? (s.type as string[]).filter((t) => t !== 'null') : s.type ? [String(s.type)] : [];
  const label = types
    .map((t) => {
      if (t === 'array') return `array of ${typeLabel(doc, s.items)}`;
      if (t === 'string' && s.format) return `string (${String(s.format)})`;
      return t;
    })
    .join(' | ');
  return label || (s.properties ? 'object' : 'any');
}

function constraints(schema: OpenApiObject): string[] {
  const out: string[] = [];
  if (schema.minimum !== undefined) out.push(`≥ ${String(schema.minimum)}`);
  if (schema.maximum !== undefined) out.push(`≤ ${String(schema.maximum)}`);
  if (schema.minLength !== undefined) out.push(`at least ${String(schema.minLength)} characters`);
  if (schema.maxLength !== undefined) out.push(`at most ${String(schema.maxLength)} characters`);
  if (schema.pattern !== undefined) out.push(`pattern <code>${escapeHtml(String(schema.pattern))}</code>`);
  if (schema.default !== undefined) out.push(`default <code>${escapeHtml(JSON.stringify(schema.default))}</code>`);
  if (schema.readOnly === true) out.push('read-only');
  if (Array.isArray(schema.type) && schema.type.includes('null')) out.push('nullable');
  return out;
}

function fieldsTable(doc: OpenApiDocument, schemaName: string): string {
  const schema = doc.components.schemas[schemaName];
  if (!schema) return '';
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const rows = Object.entries((schema.properties ?? {}) as Record<string, OpenApiObject>).map(([name, p]) => {
    const nested = p.properties ? ` <span class="muted">{${Object.keys(p.properties as object).map(escapeHtml).join(', ')}}</span>` : '';
    const notes = [...(required.has(name) ? ['required'] : []), ...constraints(p)];
    return `<tr><td><code>${escapeHtml(name)}</code></td><td>${escapeHtml(typeLabel(doc, p))}${nested}</td><td>${p.description ? inline(String(p.description)) : ''}${notes.length ? ` <span class="muted">${notes.join('; ')}</span>` : ''}</td></tr>`;
  });
  return `<table class="fields"><thead><tr><th>Field</th><th>Type</th><th>Notes</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function parametersTable(doc: OpenApiDocument, operation: OpenApiObject): string {
  const params = ((operation.parameters ?? []) as unknown[]).map((p) => resolve(doc, p));
  if (params.length === 0) return '';
  // Filter operators (`rating[gte]`) are listed on their field's row, so the table stays short.
  const operators = new Map<string, string[]>();
  const rows: OpenApiObject[] = [];
  for (const p of params) {
    const m = p.in === 'query' ? /^(.+)\[(\w+)\]$/.exec(String(p.name)) : null;
    if (m) operators.set(m[1] as string, [...(operators.get(m[1] as string) ?? []), m[2] as string]);
    else rows.push(p);
  }
  const html = rows.map((p) => {
    const name = String(p.name);
    const ops = operators.get(name);
    const opText = ops ? ` <span class="muted">also ${ops.map((o) => `<code>${escapeHtml(`${name}[${o}]`)}</code>`).join(' ')}</span>` : '';
    return `<tr><td><code>${escapeHtml(name)}</code>${p.required ? ' <span class="req">required</span>' : ''}</td><td>${escapeHtml(String(p.in))}</td><td>${escapeHtml(typeLabel(doc, p.schema))}</td><td>${p.description ? inline(String(p.description)) : ''}${opText}</td></tr>`;
  });
  const summary = `Parameters (${rows.length}${operators.size ? `, with operators on ${operators.size} filters` : ''})`;
  return `<details class="params"${rows.length <= 6 ? ' open' : ''}><summary>${summary}</summary><table><thead><tr><th>Name</th><th>In</th><th>Type</th><th>Description</th></tr></thead><tbody>${html.join('')}</tbody></table></details>`;
}

/** Indented JSON with lists of scalars on one line (`"days": ["monday", "tuesday"]`). */
function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/\[\s+([^[\]{}]*?)\s+\]/g, (_, inner: string) => `[${inner.split(/,\s+/).join(', ')}]`);
}

function requestBody(doc: OpenApiDocument, operation: OpenApiObject): string {
  if (!operation.requestBody) return '';
  const body = resolve(doc, operation.requestBody);
  const contents = Object.entries((body.content ?? {}) as Record<string, OpenApiObject>);
  const first = contents[0];
  const example = first?.[1].example;
  const schema = first ? typeLabel(doc, first[1].schema) : '';
  return `<h5>Request body${body.required ? '' : ' (optional)'}</h5><p>${contents.map(([t]) => `<code>${escapeHtml(t)}</code>`).join(' ')}${schema ? ` — ${escapeHtml(schema)}` : ''}</p>${example !== undefined ? `<pre class="example"><code>${escapeHtml(prettyJson(example))}</code></pre>` : ''}`;
}

function responsesList(doc: OpenApiDocument, operation: OpenApiObject): string {
  const items = Object.entries((operation.responses ?? {}) as Record<string, OpenApiObject>).map(([status, r]) => {
    const isError = typeof r.$ref === 'string';
    const response = resolve(doc, r);
    const headers = Object.keys((response.headers ?? {}) as object);
    const types = Object.keys((response.content ?? {}) as object);
    const errorLink = isError ? ` <a href="/docs/errors">error codes</a>` : '';
    return `<li><span class="status s${status[0]}">${escapeHtml(status)}</span> ${response.description ? inline(String(response.description)) : ''}${headers.length ? ` <span class="muted">Headers: ${headers.map((h) => `<code>${escapeHtml(h)}</code>`).join(', ')}</span>` : ''}${!isError && types.length ? ` <span class="muted">(${types.map(escapeHtml).join(', ')})</span>` : ''}${errorLink}</li>`;
  });
  return `<h5>Responses</h5><ul class="responses">${items.join('')}</ul>`;
}

function operationHtml(doc: OpenApiDocument, entry: Entry): string {
  const { operation } = entry;
  const id = `op-${String(operation.operationId)}`;
  const curl = curlCommand(doc, { method: entry.method, path: entry.path, operation, server: entry.server });
  const lock = isAnonymous(doc, operation) ? '' : ' <span class="lock" title="Needs a token">token</span>';
  return `<section class="operation" id="${escapeHtml(id)}">
<h4><a href="#${escapeHtml(id)}"><span class="method ${entry.method}">${entry.method.toUpperCase()}</span> <code class="path">${escapeHtml(entry.path)}</code></a>${lock}</h4>
<p class="summary">${inline(String(operation.summary ?? ''))}</p>
${operation.description ? `<div class="description">${renderMarkdown(String(operation.description))}</div>` : ''}
${entry.method === 'head' ? '' : `${parametersTable(doc, operation)}\n${requestBody(doc, operation)}\n${responsesList(doc, operation)}`}
<div class="curl"><button type="button" class="copy" data-copy="${escapeHtml(id)}-curl">Copy</button><pre><code id="${escapeHtml(id)}-curl">${escapeHtml(curl)}</code></pre></div>
</section>`;
}

/** The component schema a resource tag's items use (the 200 JSON body of its item GET). */
function resourceSchemaOf(entries: readonly Entry[]): string | null {
  for (const e of entries) {
    if (e.method !== 'get' || !e.path.endsWith('{id}')) continue;
    const ok = (e.operation.responses as Record<string, OpenApiObject> | undefined)?.['200'];
    const schema = ((ok?.content as Record<string, OpenApiObject> | undefined)?.['application/json']?.schema ?? {}) as OpenApiObject;
    if (typeof schema.$ref === 'string') return schema.$ref.split('/').pop() as string;
  }
  return null;
}

export function renderReference(doc: OpenApiDocument): { sidebar: string; body: string } {
  const byTag = operationsByTag(doc);
  const tags = new Map(doc.tags.map((t) => [String(t.name), t]));
  const groups = doc['x-tagGroups'];
  const grouped = new Set(groups.flatMap((g) => g.tags));
  const allGroups = [...groups, ...([...byTag.keys()].some((t) => !grouped.has(t)) ? [{ name: 'Other', tags: [...byTag.keys()].filter((t) => !grouped.has(t)) }] : [])];
  const sidebar: string[] = [];
  const body: string[] = [];
  for (const group of allGroups) {
    const groupId = `group-${group.name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
    sidebar.push(`<h2><a href="#${groupId}">${escapeHtml(group.name)}</a></h2><ul>`);
    body.push(`<section class="group" id="${groupId}"><h2>${escapeHtml(group.name)}</h2>`);
    for (const tag of group.tags) {
      const entries = byTag.get(tag) ?? [];
      if (entries.length === 0) continue;
      const tagId = `tag-${tag.replace(/[^A-Za-z0-9_-]+/g, '-')}`;
      sidebar.push(`<li><a href="#${tagId}">${escapeHtml(String(tags.get(tag)?.['x-displayName'] ?? tag))}</a><ul>${entries.filter((e) => e.method !== 'head').map((e) => `<li><a href="#op-${escapeHtml(String(e.operation.operationId))}"><span class="method ${e.method}">${e.method.toUpperCase()}</span> ${escapeHtml(String(e.operation.summary ?? e.path))}</a></li>`).join('')}</ul></li>`);
      const schemaName = group.name === 'Resources' ? resourceSchemaOf(entries) : null;
      body.push(`<section class="tag" id="${tagId}"><h3>${escapeHtml(String(tags.get(tag)?.['x-displayName'] ?? tag))}</h3>
${tags.get(tag)?.description ? `<div class="description">${renderMarkdown(String(tags.get(tag)?.description))}</div>` : ''}
${schemaName ? `<h4 class="schema-title">The <code>${escapeHtml(schemaName)}</code> fields</h4>${fieldsTable(doc, schemaName)}` : ''}
${entries.map((e) => operationHtml(doc, e)).join('\n')}
</section>`);
    }
    sidebar.push('</ul>');
    body.push('</section>');
  }
  const server = String(doc.servers[0]?.url ?? '');
  const intro = `<h1>${escapeHtml(String(doc.info.title))} <span class="muted">v${escapeHtml(String(doc.info.version))}</span></h1>
<div class="description">${renderMarkdown(String(doc.info.description ?? ''))}</div>
<p>Server: <code>${escapeHtml(server)}</code>. New here? Read <a href="/docs/getting-started">Getting started</a>: get a token, then copy the cURL examples below (they use <code>$TOKEN</code>).</p>`;
  return { sidebar: sidebar.join('\n'), body: `${intro}\n${body.join('\n')}` };
}
