/**
 * Operations that are not a resource's CRUD (SPEC §4.12, §7, §8, §9): operations and item
 * actions, the event feed, the API's own documents, the OAuth2 endpoints, and the JSON-RPC and
 * GraphQL entry points.
 */
import type { RouteInfo } from '../protocols/rest/routes.js';
import type { ActionModel, JsonObject } from '../schema/types.js';
import { content, READ_TYPES, ref, typeName, type Builder, type Schema } from './builder.js';
import type { DocumentInput, OpenApiObject } from './document.js';
import { exampleOf } from './examples.js';

export function addAction(
  b: Builder,
  route: RouteInfo,
  action: ActionModel,
  path: string,
  pathParams: Schema[],
  op: (o: OpenApiObject) => OpenApiObject,
  anonymous: boolean,
): void {
  const inputSchema = (action.spec.input ?? {}) as Schema;
  const outputSchema = (action.spec.output ?? {}) as Schema;
  const T = typeName(action.rpcName.replace(/\./g, '-'));
  const hasInput = action.spec.input !== undefined;
  if (hasInput) b.schemas[`${T}Input`] ??= { ...inputSchema, xml: { name: 'input' } };
  b.schemas[`${T}Result`] ??= { type: 'object', properties: { result: outputSchema }, required: ['result'], xml: { name: 'result' } };
  const isObject = inputSchema.type === 'object';
  const example = exampleOf(inputSchema);
  const queryParams: Schema[] = isObject
    ? Object.entries((inputSchema.properties ?? {}) as Record<string, Schema>).map(([name, schema]) => ({
        name,
        in: 'query',
        description: `The input's \`${name}\`, when not in the body (\`POST ${path}?${name}=…\`).`,
        schema,
      }))
    : [];
  const types = ['application/json', ...(isObject ? ['application/x-www-form-urlencoded'] : []), 'application/xml'];
  const outputExample = exampleOf(outputSchema);
  b.add({
    method: 'post',
    path,
    operation: op({
      tags: ['Operations'],
      summary: action.spec.summary ?? `${action.name}`,
      description: `${action.spec.description ?? ''}${action.resource ? `\n\nAn action on one ${action.resource} item.` : ''} Also the JSON-RPC method \`${action.rpcName}\`.`.trim(),
      parameters: [...pathParams, ...queryParams, b.headerParam('IdempotencyKey')],
      ...(hasInput ? { requestBody: { required: !isObject, content: content(types, ref('schemas', `${T}Input`), example) } } : {}),
      responses: b.commonErrors(anonymous, {
        '200': { description: 'The result.', headers: b.headerSet(['Idempotent-Replayed', 'RateLimit', 'RateLimit-Policy']), content: content(READ_TYPES, ref('schemas', `${T}Result`), outputExample !== undefined ? { result: outputExample } : undefined) },
        '400': b.error('BadRequest'),
        ...(action.resource ? { '404': b.error('NotFound') } : {}),
        '406': b.error('NotAcceptable'),
        '413': b.error('PayloadTooLarge'),
        '415': b.error('UnsupportedMediaType'),
        '422': b.error('UnprocessableContent'),
      }),
    }),
  });
  void route;
}

export function addEvents(b: Builder, input: DocumentInput): void {
  const api = input.api;
  b.schemas.Event ??= {
    type: 'object',
    description: 'One change: `<resource>.created`, `.updated`, `.deleted`, or `<resource>.<state>` for a state machine.',
    properties: {
      id: { type: 'string', description: 'The event\'s cursor: pass it back as `after` or `Last-Event-ID`.' },
      type: { type: 'string', examples: ['orders.ready'] },
      resource: { type: 'string', enum: [...api.resources.keys()] },
      resourceId: { type: 'string' },
      occurredAt: { type: 'string', format: 'date-time' },
      data: { type: 'object', description: 'The item as a GET shows it (as it was, for a deletion), with `changes`: the fields the change touched.', properties: { changes: { type: 'array', items: { type: 'string' } } }, required: ['changes'], additionalProperties: true },
    },
    required: ['id', 'type', 'resource', 'resourceId', 'occurredAt', 'data'],
    xml: { name: 'event' },
  };
  const event = ref('schemas', 'Event');
  const headers = b.headerSet(['Content-Range', 'Accept-Range', 'Link', 'ETag', 'RateLimit', 'RateLimit-Policy']);
  const first = [...api.resources.keys()][0] ?? 'items';
  const ex = [{ id: 'evt_000000000001', type: `${first}.updated`, resource: first, resourceId: '3', occurredAt: '2026-01-15T12:00:00.000Z', data: { id: 3, changes: ['name'] } }];
  const body = {
    'application/json': { schema: { type: 'array', items: event }, example: ex },
    'text/event-stream': { schema: { type: 'string', description: 'Server-sent events: `id: <cursor>`, `event: <type>`, `data: <event JSON>`; `: heartbeat` comments keep the connection open.' } },
  };
  const get: OpenApiObject = {
    tags: ['Events'],
    summary: 'Read the event feed',
    operationId: 'listEvents',
    description:
      'Every change the caller may read, in order. Poll with `after=<next-cursor>`; add `Prefer: wait=N` to hold until something happens (long polling); or ask for `Accept: text/event-stream` to receive events as they happen (resumes with `Last-Event-ID`). `data.<field>=v` and `data.<field>[op]=v` filter on the items of one resource, as collection filters do.',
    security: [{}, { bearerAuth: [] }, { oauth2: [] }, { accessTokenQuery: [] }],
    parameters: [
      { name: 'after', in: 'query', description: 'The cursor to read after (`next-cursor` of the previous page).', schema: { type: 'string' } },
      { name: 'resource', in: 'query', description: 'Only these resources.', schema: { type: 'array', items: { type: 'string', enum: [...api.resources.keys()] } }, style: 'form', explode: false },
      { name: 'type', in: 'query', description: 'Only these event types (`orders.ready`).', schema: { type: 'array', items: { type: 'string' } }, style: 'form', explode: false },
      ...b.pagingParams(input.eventsMaxRange, 'event', false),
      b.headerParam('PreferWait'),
      b.headerParam('LastEventId'),
      b.headerParam('IfNoneMatch'),
    ],
    responses: b.commonErrors(true, {
      '200': { description: 'Every event after the cursor (or the stream).', headers, content: body },
      '206': { description: 'A page of events.', headers, content: { 'application/json': body['application/json'] } },
      '304': { description: 'Nothing new (`If-None-Match`, or nothing during `Prefer: wait`).', headers: b.headerSet(['ETag']) },
      '400': b.error('BadRequest'),
      '406': b.error('NotAcceptable'),
      '410': b.error('Gone'),
      '416': b.error('RangeNotSatisfiable'),
    }),
  };
  b.add({ method: 'get', path: `${b.prefix}/events`, operation: get });
}

export function addDocuments(b: Builder): void {
  for (const [ext, type] of [['json', 'application/json'], ['yaml', 'application/yaml']] as const) {
    b.add({
      method: 'get',
      path: `${b.prefix}/openapi.${ext}`,
      operation: {
        tags: ['Discovery'],
        summary: `This OpenAPI document (${ext.toUpperCase()})`,
        operationId: `getOpenApi${ext === 'json' ? 'Json' : 'Yaml'}`,
        description: 'The OpenAPI 3.1 document of the API, generated from its schema. No authentication needed.',
        security: [{}],
        responses: {
          '200': { description: 'The document.', headers: b.headerSet(['ETag']), content: { [type]: { schema: { type: ext === 'json' ? 'object' : 'string' } } } },
          '304': { description: 'Not modified (`If-None-Match`).', headers: b.headerSet(['ETag']) },
          '429': b.error('TooManyRequests'),
        },
      },
    });
  }
}

export function addOAuth(b: Builder, input: DocumentInput): void {
  b.schemas.TokenResponse ??= {
    type: 'object',
    description: 'RFC 6749 §5.1',
    properties: {
      access_token: { type: 'string', description: 'A JWT (RFC 9068).' },
      token_type: { type: 'string', enum: ['Bearer'] },
      expires_in: { type: 'integer', description: 'Seconds.' },
      scope: { type: 'string' },
      refresh_token: { type: 'string' },
    },
    required: ['access_token', 'token_type', 'expires_in'],
  };
  const form = (properties: Record<string, Schema>, required: string[], example: JsonObject): OpenApiObject => ({
    required: true,
    content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', properties: { ...properties, client_id: { type: 'string' }, client_secret: { type: 'string', description: 'Or HTTP Basic.' } }, required }, example } },
  });
  const security = [{ clientBasic: [] }, {}];
  const noStore = { 'Cache-Control': { description: '`no-store`', schema: { type: 'string' } } };
  const firstScope = [...input.scopes].sort()[0] ?? 'restaurants:write';
  b.add({
    method: 'post',
    path: '/oauth/token',
    operation: {
      tags: ['OAuth2'],
      operationId: 'oauthToken',
      summary: 'Get an access token',
      description: '`grant_type=client_credentials` (the client authenticates with HTTP Basic, or `client_id` and `client_secret` in the form) or `grant_type=refresh_token`.',
      security,
      requestBody: form(
        {
          grant_type: { type: 'string', enum: ['client_credentials', 'refresh_token'] },
          scope: { type: 'string', description: 'Space-separated scopes, at most the client\'s.' },
          refresh_token: { type: 'string' },
        },
        ['grant_type'],
        { grant_type: 'client_credentials', scope: firstScope },
      ),
      responses: {
        '200': { description: 'The token.', headers: noStore, content: { 'application/json': { schema: ref('schemas', 'TokenResponse'), example: { access_token: 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9…', token_type: 'Bearer', expires_in: 3600, scope: firstScope } } } },
        '400': b.error('BadRequest'),
        '401': b.error('Unauthorized'),
        '429': b.error('TooManyRequests'),
      },
    },
  });
  b.add({
    method: 'post',
    path: '/oauth/introspect',
    operation: {
      tags: ['OAuth2'],
      operationId: 'oauthIntrospect',
      summary: 'Introspect a token (RFC 7662)',
      security,
      requestBody: form({ token: { type: 'string' } }, ['token'], { token: 'eyJhbGciOi…' }),
      responses: {
        '200': { description: '`{"active": true, …}` or `{"active": false}`.', content: { 'application/json': { schema: { type: 'object', properties: { active: { type: 'boolean' } }, required: ['active'], additionalProperties: true } } } },
        '400': b.error('BadRequest'),
        '401': b.error('Unauthorized'),
        '429': b.error('TooManyRequests'),
      },
    },
  });
  b.add({
    method: 'post',
    path: '/oauth/revoke',
    operation: {
      tags: ['OAuth2'],
      operationId: 'oauthRevoke',
      summary: 'Revoke a token (RFC 7009)',
      security,
      requestBody: form({ token: { type: 'string' }, token_type_hint: { type: 'string', enum: ['access_token', 'refresh_token'] } }, ['token'], { token: 'eyJhbGciOi…' }),
      responses: { '200': { description: 'Revoked (or unknown: the same answer).' }, '400': b.error('BadRequest'), '401': b.error('Unauthorized'), '429': b.error('TooManyRequests') },
    },
  });
  b.add({
    method: 'get',
    path: '/oauth/tokeninfo',
    operation: {
      tags: ['OAuth2'],
      operationId: 'oauthTokenInfo',
      summary: 'Describe a token (Google style)',
      security: [{}],
      parameters: [{ name: 'access_token', in: 'query', required: true, schema: { type: 'string' } }],
      responses: {
        '200': { description: 'The token\'s client, subject, scopes and expiry.', content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } } },
        '400': b.error('BadRequest'),
        '429': b.error('TooManyRequests'),
      },
    },
  });
  b.add({
    method: 'get',
    path: '/oauth/jwks.json',
    operation: {
      tags: ['OAuth2'],
      operationId: 'oauthJwks',
      summary: 'The public keys of access tokens (JWKS)',
      security: [{}],
      responses: { '200': { description: 'RFC 7517 key set.', content: { 'application/jwk-set+json': { schema: { type: 'object', properties: { keys: { type: 'array', items: { type: 'object' } } }, required: ['keys'] } } } }, '429': b.error('TooManyRequests') },
    },
  });
  b.add({
    method: 'get',
    path: '/.well-known/oauth-authorization-server',
    operation: {
      tags: ['OAuth2'],
      operationId: 'oauthMetadata',
      summary: 'Authorization server metadata (RFC 8414)',
      security: [{}],
      responses: { '200': { description: 'Endpoints, grant types and scopes.', content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } } }, '429': b.error('TooManyRequests') },
    },
  });
}

export function addOtherProtocols(b: Builder): void {
  const security = [{}, { bearerAuth: [] }, { oauth2: [] }];
  b.add({
    method: 'post',
    path: `${b.prefix}/rpc`,
    operation: {
      tags: ['Other protocols'],
      operationId: 'jsonRpc',
      summary: 'JSON-RPC 2.0',
      description: 'Methods `<resource>.list|get|create|replace|update|delete|search` and every operation; batches and notifications. `rpc.discover` returns the OpenRPC document.',
      security,
      requestBody: {
        required: true,
        content: { 'application/json': { schema: { type: ['object', 'array'] }, example: { jsonrpc: '2.0', method: 'restaurants.list', params: { filter: { type: ['thai'] }, range: [0, 4] }, id: 1 } } },
      },
      responses: {
        '200': { description: 'The response, or the batch\'s responses (errors are JSON-RPC errors, status 200).', content: { 'application/json': { schema: { type: ['object', 'array'] } } } },
        '204': { description: 'Only notifications: nothing to answer.' },
        '400': b.error('BadRequest'),
        '401': b.error('Unauthorized'),
        '429': b.error('TooManyRequests'),
      },
    },
  });
  const gqlResponse = { description: 'The GraphQL response (`data`, `errors`).', content: { 'application/json': { schema: { type: 'object', additionalProperties: true } }, 'application/graphql-response+json': { schema: { type: 'object', additionalProperties: true } } } };
  b.add({
    method: 'post',
    path: `${b.prefix}/graphql`,
    operation: {
      tags: ['Other protocols'],
      operationId: 'graphqlPost',
      summary: 'GraphQL',
      description: 'Queries and mutations over the same service. The SDL is at `/v1/graphql/schema.graphql`; a browser opens GraphiQL.',
      security,
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: { type: 'object', properties: { query: { type: 'string' }, variables: { type: 'object' }, operationName: { type: 'string' } }, required: ['query'] },
            example: { query: '{ restaurants(range: {first: 0, last: 4}) { total items { id name rating } } }' },
          },
        },
      },
      responses: { '200': gqlResponse, '400': b.error('BadRequest'), '401': b.error('Unauthorized'), '429': b.error('TooManyRequests') },
    },
  });
  b.add({
    method: 'get',
    path: `${b.prefix}/graphql`,
    operation: {
      tags: ['Other protocols'],
      operationId: 'graphqlGet',
      summary: 'GraphQL query by GET (GraphiQL in a browser)',
      description: 'A query (not a mutation) in the URL; `Accept: text/html` opens GraphiQL, served from local files.',
      security,
      parameters: [
        { name: 'query', in: 'query', required: true, schema: { type: 'string' }, example: '{ restaurants(range: {first: 0, last: 4}) { items { id name } } }' },
        { name: 'variables', in: 'query', description: 'JSON object.', schema: { type: 'string' } },
        { name: 'operationName', in: 'query', schema: { type: 'string' } },
      ],
      responses: {
        '200': { ...gqlResponse, content: { ...gqlResponse.content, 'text/html': { schema: { type: 'string', description: 'GraphiQL.' } } } },
        '400': b.error('BadRequest'),
        '401': b.error('Unauthorized'),
        '429': b.error('TooManyRequests'),
      },
    },
  });
  b.add({
    method: 'get',
    path: `${b.prefix}/graphql/schema.graphql`,
    operation: {
      tags: ['Other protocols'],
      operationId: 'graphqlSchema',
      summary: 'The GraphQL schema (SDL)',
      security: [{}],
      responses: {
        '200': { description: 'The schema in the GraphQL schema definition language.', headers: b.headerSet(['ETag']), content: { 'text/plain': { schema: { type: 'string' } } } },
        '304': { description: 'Not modified (`If-None-Match`).', headers: b.headerSet(['ETag']) },
        '429': b.error('TooManyRequests'),
      },
    },
  });
}
