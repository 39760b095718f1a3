/**
 * The OpenAPI 3.1 document of an API (SPEC §9, seed 003 "Open API Initiative"), generated
 * from the model and the REST route table: every path and method the REST front end serves
 * (collections, items, nested collections, search, operations, blobs, the event feed,
 * discovery), the webhooks' registration and delivery log, the OAuth2 endpoints, their
 * query parameters (range, limit/offset, after, sort/desc, fields, each filter and
 * operator), request bodies per media type, the headers
 * SPEC §4 names, every error response in the seed-004 structure, the security schemes and
 * examples. Built once per schema; the base URLs of a request are put in by `withUrls`.
 */
import type { RouteInfo } from '../protocols/rest/routes.js';
import type { ApiModel } from '../schema/types.js';
import { addDocuments, addEvents, addOAuth, addOtherProtocols, addWebhooks } from './api-operations.js';
import { Builder, EXAMPLE_BASE } from './builder.js';
import { addRouteOperations } from './route-operations.js';

export { EXAMPLE_BASE, typeName } from './builder.js';

export type OpenApiObject = { [key: string]: unknown };

export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: OpenApiObject;
  readonly servers: readonly OpenApiObject[];
  /** The developer portal (`/docs`), on the developer host. */
  readonly externalDocs: { readonly description: string; readonly url: string };
  readonly security: readonly Record<string, readonly string[]>[];
  readonly tags: readonly OpenApiObject[];
  readonly 'x-tagGroups': readonly { readonly name: string; readonly tags: readonly string[] }[];
  readonly paths: Readonly<Record<string, OpenApiObject>>;
  readonly components: {
    readonly schemas: Readonly<Record<string, OpenApiObject>>;
    readonly parameters: Readonly<Record<string, OpenApiObject>>;
    readonly headers: Readonly<Record<string, OpenApiObject>>;
    readonly responses: Readonly<Record<string, OpenApiObject>>;
    readonly securitySchemes: Readonly<Record<string, OpenApiObject>>;
  };
}

export interface DocumentInput {
  readonly api: ApiModel;
  /** The REST route table (src/protocols/rest/routes.ts, blobs.ts). */
  readonly routes: readonly RouteInfo[];
  readonly limits: { readonly bodyBytes: number; readonly bulkItems: number };
  /** `Accept-Range: event <n>` of `GET /v1/events`. */
  readonly eventsMaxRange: number;
  /** `maxRange` of `GET /v1/search`. */
  readonly globalSearchMaxRange: number;
  /** Scopes the access rules name (the authorization server's `scopes_supported`). */
  readonly scopes: readonly string[];
}

/** Base URLs of the server's faces (SPEC §8 "Domains"). */
export interface DocumentUrls {
  readonly api: string;
  readonly oauth: string;
  readonly developer: string;
}

export function buildOpenApiDocument(input: DocumentInput): OpenApiDocument {
  const { api } = input;
  const b = new Builder(input);
  const prefix = b.prefix;
  for (const route of input.routes) addRouteOperations(b, route);
  addEvents(b, input);
  // The webhooks plugin is mounted on every server (src/app.ts), beside the REST route table.
  addWebhooks(b, input);
  addDocuments(b);
  addOAuth(b, input);
  addOtherProtocols(b);

  const actionsTagged = Object.values(b.paths).some((item) => Object.values(item).some((o) => ((o as OpenApiObject).tags as string[] | undefined)?.includes('Operations')));
  const tags: OpenApiObject[] = [
    ...b.resourceTags.map((name) => ({ name, description: api.resources.get(name)?.description ?? `The ${name}.`, 'x-displayName': name })),
    ...(actionsTagged ? [{ name: 'Operations', description: 'Non-resource scenarios (seed 004): calculations, conversions and item actions, called with POST. Each is also a JSON-RPC method and a GraphQL mutation.' }] : []),
    ...(b.paths[`${prefix}/search`] ? [{ name: 'Search', description: 'Search across every resource.' }] : []),
    { name: 'Events', description: 'The event feed: polling by cursor, long polling, server-sent events. WebSocket messages and webhook deliveries are described by the AsyncAPI document.' },
    { name: 'Webhooks', description: 'Endpoints Carte POSTs events to, signed the Standard Webhooks way: register them, read their delivery log, retry a delivery, ping, rotate the secret. Each principal sees only its own.' },
    { name: 'Discovery', description: 'The API\'s entry point and its descriptions.' },
    { name: 'OAuth2', description: 'The authorization server: tokens by client credentials, refresh, introspection, revocation.' },
    { name: 'Other protocols', description: 'The same service as JSON-RPC 2.0 and GraphQL.' },
  ];
  const group = (names: string[]) => names.filter((n) => tags.some((t) => t.name === n));

  return {
    openapi: '3.1.0',
    info: {
      title: api.name,
      version: String(api.version),
      description: infoDescription(api, input),
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: EXAMPLE_BASE, description: 'This server' }],
    externalDocs: { description: 'The developer portal: reference with cURL examples, getting started, errors', url: `${EXAMPLE_BASE}/docs` },
    security: [{ oauth2: [] }, { bearerAuth: [] }],
    tags,
    'x-tagGroups': [
      { name: 'Resources', tags: b.resourceTags },
      ...(group(['Operations']).length ? [{ name: 'Operations', tags: group(['Operations']) }] : []),
      { name: 'Search and events', tags: group(['Search', 'Events', 'Webhooks']) },
      { name: 'API', tags: group(['Discovery', 'OAuth2', 'Other protocols']) },
    ],
    paths: b.paths,
    components: {
      schemas: b.schemas,
      parameters: b.parameters,
      headers: b.headers,
      responses: b.responses,
      securitySchemes: securitySchemes(input.scopes, EXAMPLE_BASE),
    },
  };
}
function infoDescription(api: ApiModel, input: DocumentInput): string {
  const lines = [
    api.description ?? '',
    '',
    'Generated by Carte from the API\'s schema: every resource is a collection under `/v' + api.version + '` with items, nested collections, search and operations.',
    '',
    '- **Formats**: JSON by default, XML by `Accept: application/xml`, CSV for collections (`Accept: text/csv`); bodies in JSON, merge patch, forms or XML.',
    '- **Pages**: `range=0-9` or `limit`/`offset`; `Content-Range`, `Accept-Range` and `Link` headers; 206 for a partial page; `after` cursors for deep paging.',
    '- **Errors**: `{"error", "error_description", "error_uri"}` everywhere, documented at `/docs/errors`; `Accept: application/problem+json` for RFC 9457.',
    '- **Security**: OAuth2 client credentials at `/oauth/token` (JWT access tokens), or an API key, sent as `Authorization: Bearer …`.',
    `- **Limits**: bodies up to ${input.limits.bodyBytes} bytes; rate limits announced by \`RateLimit\` headers.`,
    '- **Cross-domain**: CORS on every answer; JSONP for script tags at `<path>.jsonp?callback=fn` (always 200, the status in `meta`; `jsonp.enabled` turns it off).',
    '- **Probes**: `GET /health` (alive) and `GET /ready` (the database answers), without credentials or quotas.',
    '- **Events**: `GET /v' + api.version + '/events` (polling, long polling, server-sent events); webhooks registered at `/v' + api.version + '/webhooks` (Standard Webhooks signatures); WebSocket messages and webhook deliveries in the AsyncAPI document (`/v' + api.version + '/asyncapi.json`).',
  ];
  if (api.previous) {
    lines.push(`- **Versions**: \`/v${api.previous.version}\` is still served, deprecated (\`Deprecation\`, \`Sunset: ${api.previous.sunset.toUTCString()}\`); the version may also be chosen by \`Api-Version\` or \`Accept: application/vnd.carte.v${api.version}+json\` on unversioned paths.`);
  }
  return lines.join('\n').trim();
}

function securitySchemes(scopes: readonly string[], oauthBase: string): Record<string, OpenApiObject> {
  const described = Object.fromEntries(
    [...scopes].sort().map((s) => {
      const m = /^(.+):(read|write)$/.exec(s);
      const text = m ? (m[2] === 'read' ? `Read ${m[1]}` : `Create, change and delete ${m[1]} (grants ${m[1]}:read)`) : `The scope ${s}`;
      return [s, text];
    }),
  );
  return {
    oauth2: {
      type: 'oauth2',
      description: 'OAuth2 client credentials (RFC 6749 §4.4): the client authenticates with HTTP Basic or `client_id`/`client_secret` in the form and gets a JWT access token (RFC 9068). Clients are made with `carte clients create`.',
      flows: {
        clientCredentials: { tokenUrl: `${oauthBase}/oauth/token`, refreshUrl: `${oauthBase}/oauth/token`, scopes: described },
      },
    },
    bearerAuth: {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description: '`Authorization: Bearer <token>`: an access token from `/oauth/token`, the development token `carte serve --dev` prints, or an API key (`carte keys create`).',
    },
    accessTokenQuery: {
      type: 'apiKey',
      in: 'query',
      name: 'access_token',
      description: 'The same token as a query parameter, only where a browser cannot set a header: server-sent events, WebSockets and JSONP (RFC 6750 §2.3).',
    },
    clientBasic: {
      type: 'http',
      scheme: 'basic',
      description: 'OAuth2 client authentication: the client id and secret.',
    },
  };
}

// ---------------------------------------------------------------------------------------
// Caching and per-request URLs

const documents = new WeakMap<ApiModel, OpenApiDocument>();

/** The document of a model, built once (the schema does not change while serving). */
export function openApiDocument(input: DocumentInput): OpenApiDocument {
  let doc = documents.get(input.api);
  if (!doc) {
    doc = buildOpenApiDocument(input);
    documents.set(input.api, doc);
  }
  return doc;
}

/** The document with a request's base URLs: the API server, and the OAuth2 host for its endpoints and token URL. */
export function withUrls(doc: OpenApiDocument, urls: DocumentUrls): OpenApiDocument {
  const oauth = doc.components.securitySchemes.oauth2 as { flows: { clientCredentials: OpenApiObject } };
  const paths =
    urls.oauth === urls.api
      ? doc.paths
      : Object.fromEntries(Object.entries(doc.paths).map(([p, item]) => [p, p.startsWith('/oauth/') || p.startsWith('/.well-known/') ? { servers: [{ url: urls.oauth }], ...item } : item]));
  return {
    ...doc,
    servers: [{ url: urls.api, description: 'This server' }],
    externalDocs: { ...doc.externalDocs, url: `${urls.developer}/docs` },
    paths,
    components: {
      ...doc.components,
      securitySchemes: {
        ...doc.components.securitySchemes,
        oauth2: { ...oauth, flows: { clientCredentials: { ...oauth.flows.clientCredentials, tokenUrl: `${urls.oauth}/oauth/token`, refreshUrl: `${urls.oauth}/oauth/token` } } },
      },
    },
  };
}
