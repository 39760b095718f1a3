/**
 * The getting-started page (SPEC §9): obtain a token (client credentials, or the development
 * token of `carte serve --dev`), then the first requests — read a page, filter, read one,
 * create with the token, change it — with commands built from the OpenAPI document, so they
 * name this API's own resources and URLs.
 */
import type { OpenApiDocument, OpenApiObject } from '../document.js';
import { resolve, shellQuote } from './curl.js';
import { escapeHtml } from './markdown.js';

function block(id: string, code: string): string {
  return `<div class="curl"><button type="button" class="copy" data-copy="${id}">Copy</button><pre><code id="${id}">${escapeHtml(code)}</code></pre></div>`;
}

interface FirstResource {
  readonly collection: string;
  readonly create: OpenApiObject | null;
  readonly patch: OpenApiObject | null;
}

/** The first resource of the document that can be listed, read and created. */
function firstResource(doc: OpenApiDocument): FirstResource | null {
  const group = doc['x-tagGroups'].find((g) => g.name === 'Resources');
  for (const tag of group?.tags ?? []) {
    for (const [path, item] of Object.entries(doc.paths)) {
      const get = item.get as OpenApiObject | undefined;
      if (!get || (get.tags as string[] | undefined)?.[0] !== tag || path.includes('{')) continue;
      if (path.endsWith('/search')) continue;
      const itemPath = doc.paths[`${path}/{id}`];
      return { collection: path, create: (item.post as OpenApiObject | undefined) ?? null, patch: (itemPath?.patch as OpenApiObject | undefined) ?? null };
    }
  }
  return null;
}

function bodyExample(doc: OpenApiDocument, operation: OpenApiObject | null, type: string): unknown {
  if (!operation?.requestBody) return undefined;
  const body = resolve(doc, operation.requestBody);
  return ((body.content as Record<string, OpenApiObject> | undefined)?.[type])?.example;
}

/** `apiBase`: '' when the API shares the portal's host, else its base URL (links to it are absolute then). */
export function renderGettingStarted(doc: OpenApiDocument, apiBase = ''): string {
  const server = String(doc.servers[0]?.url ?? '');
  const oauth = doc.components.securitySchemes.oauth2 as { flows?: { clientCredentials?: { tokenUrl?: string; scopes?: Record<string, string> } } } | undefined;
  const tokenUrl = oauth?.flows?.clientCredentials?.tokenUrl ?? `${server}/oauth/token`;
  const scopes = Object.keys(oauth?.flows?.clientCredentials?.scopes ?? {});
  const writeScope = scopes.find((s) => s.endsWith(':write')) ?? scopes[0] ?? '';
  const first = firstResource(doc);
  const prefix = first ? first.collection.replace(/\/[^/]+$/, '') : '/v1';
  const collection = first?.collection ?? `${prefix}/restaurants`;
  const href = escapeHtml(`${apiBase}${prefix}`);
  const listOp = doc.paths[collection]?.get as OpenApiObject | undefined;
  const filter = ((listOp?.parameters ?? []) as unknown[]).map((p) => resolve(doc, p)).find((p) => p.in === 'query' && !String(p.name).includes('[') && Array.isArray(((p.schema as OpenApiObject | undefined)?.items as OpenApiObject | undefined)?.enum));
  const filterValue = (((filter?.schema as OpenApiObject | undefined)?.items as OpenApiObject | undefined)?.enum as unknown[] | undefined)?.[0];
  const created = bodyExample(doc, first?.create ?? null, 'application/json');
  const patch = bodyExample(doc, first?.patch ?? null, 'application/merge-patch+json');
  const scopeArg = scopes.length ? ` --scopes ${shellQuote(scopes.join(' '))}` : '';

  return `<h1>Getting started</h1>
<p>Every example below is a command to copy into a terminal. The API is at <code>${escapeHtml(server)}${escapeHtml(prefix)}</code>; <a href="${href}">${escapeHtml(prefix)}</a> lists every collection and operation, and <a href="/docs">the reference</a> every call with its cURL example.</p>

<h2 id="token">1. Get a token</h2>
<p>Reading is often open to anyone; writing needs a bearer token in <code>Authorization: Bearer $TOKEN</code>. Two ways to get one:</p>
<h3 id="dev-token">On your machine: the development token</h3>
<p><code>carte serve --dev</code> prints a token with every scope on its start line (development only):</p>
${block('gs-dev', 'npx carte serve --dev\n# Carte serving … — dev mode, token eyJhbGciOi…\nexport TOKEN=eyJhbGciOi…   # paste the token printed above')}
<h3 id="client-credentials">For an application: OAuth2 client credentials</h3>
<p>Create a client once (the secret is printed once), then exchange its id and secret for an access token at <code>${escapeHtml(tokenUrl)}</code> (RFC 6749 §4.4). Tokens expire: ask for a new one the same way.</p>
${block('gs-client', `npx carte clients create --name my-app${scopeArg} --json\n# {"client_id":"…","client_secret":"…"}\nexport CLIENT_ID=…  CLIENT_SECRET=…`)}
${block('gs-token', `curl -s -u "$CLIENT_ID:$CLIENT_SECRET" \\\n  -d grant_type=client_credentials${writeScope ? ` \\\n  -d scope=${shellQuote(writeScope)}` : ''} \\\n  ${shellQuote(tokenUrl)}\n# {"access_token":"eyJhbGciOi…","token_type":"Bearer","expires_in":3600,…}\nexport TOKEN=$(curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials ${shellQuote(tokenUrl)} | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')`)}

<h2 id="first-requests">2. First requests</h2>
<p>Read the first page: the body is a bare array; <code>Content-Range</code> says where the page is, <code>Accept-Range</code> how large a page may be, and <code>Link</code> where the other pages are. 206 means there are more.</p>
${block('gs-list', `curl -i ${shellQuote(`${server}${collection}?range=0-4`)}`)}
${filter && filterValue !== undefined ? `<p>Filter, sort and choose the fields:</p>\n${block('gs-filter', `curl -i ${shellQuote(`${server}${collection}?${String(filter.name)}=${String(filterValue)}&sort=id&desc=id&fields=id,${String(filter.name)}&range=0-9`)}`)}` : ''}
<p>Read one item: it carries its links (what you may do with it) and an <code>ETag</code>.</p>
${block('gs-get', `curl -i ${shellQuote(`${server}${collection}/1`)}`)}
${created !== undefined ? `<p>Create one, with your token: 201, and <code>Location</code> says where it is.</p>\n${block('gs-create', `curl -i -X POST \\\n  -H "Authorization: Bearer $TOKEN" \\\n  -H "Content-Type: application/json" \\\n  -d ${shellQuote(JSON.stringify(created))} \\\n  ${shellQuote(`${server}${collection}`)}`)}` : ''}
${patch !== undefined ? `<p>Change it with a merge patch; <code>If-Match</code> with the ETag you read makes sure nobody changed it meanwhile (412 otherwise).</p>\n${block('gs-patch', `curl -i -X PATCH \\\n  -H "Authorization: Bearer $TOKEN" \\\n  -H "Content-Type: application/merge-patch+json" \\\n  -d ${shellQuote(JSON.stringify(patch))} \\\n  ${shellQuote(`${server}${collection}/1`)}`)}` : ''}

<h2 id="errors">3. When something goes wrong</h2>
<p>Every error has the same structure, and <code>error_uri</code> points to <a href="/docs/errors">its explanation</a>:</p>
${block('gs-error', `curl -i ${shellQuote(`${server}${collection}/999999`)}\n# 404 {"error":"not_found","error_description":"…","error_uri":"…/docs/errors#not_found"}`)}

<h2 id="next">4. Next</h2>
<ul>
<li><a href="${href}/openapi.json">The OpenAPI document</a> (<a href="${href}/openapi.yaml">YAML</a>): generate a typed client (<code>npx openapi-typescript ${escapeHtml(server)}${escapeHtml(prefix)}/openapi.json -o schema.d.ts</code>).</li>
<li><a href="${href}/asyncapi.json">The AsyncAPI document</a>: WebSockets, server-sent events and webhooks.</li>
<li>The same API as JSON-RPC at <code>${escapeHtml(prefix)}/rpc</code> and GraphQL at <a href="${href}/graphql">${escapeHtml(prefix)}/graphql</a>.</li>
</ul>`;
}
