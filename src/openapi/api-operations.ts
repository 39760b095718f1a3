/**
 * Operations that are not a resource's CRUD (SPEC §4.12, §7, §8, §9): operations and item
 * actions, the event feed, the API's own documents, the OAuth2 endpoints, the JSON-RPC and
 * GraphQL entry points, and the webhooks' registration.
 */
import { eventTypesOf } from '../events/recorder.js';
import type { RouteInfo } from '../protocols/rest/routes.js';
import { WEBHOOKS_MAX_RANGE } from '../protocols/rest/webhooks.js';
import type { ActionModel, JsonObject } from '../schema/types.js';
import { content, READ_TYPES, ref, typeName, type Builder, type Methods, type Schema } from './builder.js';
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

/**
 * `/v1/webhooks` (SPEC §7): the routes of the webhooks plugin (src/protocols/rest/webhooks.ts
 * over src/webhooks/webhook-service.ts), mounted on every server beside the REST route table.
 * JSON only; pages with `range` or `limit`/`offset` and `Content-Range`, no ETag, no Link.
 */
export function addWebhooks(b: Builder, input: DocumentInput): void {
  const api = input.api;
  const base = `${b.prefix}/webhooks`;
  // A resource whose singular is `webhook` owns `Webhook`: these names step aside then.
  const taken = new Set(Object.keys(b.schemas));
  const name = (n: string) => (taken.has(n) ? `Carte${n}` : n);
  const W = name('Webhook');
  const WCreated = name('WebhookCreated');
  const WInput = name('WebhookInput');
  const WPatch = name('WebhookPatch');
  const WSecret = name('WebhookSecret');
  const WDelivery = name('WebhookDelivery');
  const WDeliveryDetail = name('WebhookDeliveryDetail');
  const WAttempt = name('WebhookAttempt');
  const WAttemptResult = name('WebhookAttemptResult');

  // Examples the server accepts: an event type of the model, and a URL that passes the
  // address guard without DNS (203.0.113.0/24 is TEST-NET-3, RFC 5737: public, never routed).
  const typesOf = [...api.resources.values()].map(eventTypesOf);
  const stateTypes = typesOf.find((t) => t.length > 3);
  const eventType = stateTypes ? (stateTypes.find((t) => t.endsWith('.ready')) ?? (stateTypes[3] as string)) : (typesOf[0]?.[0] ?? '*');
  const id = 'wh_5f0c3a9e8b7d4c21a6e4f0b9d2c8e7a1';
  const url = 'https://203.0.113.10/hooks/carte';
  const created = '2026-01-15T12:00:00.000Z';
  const secret = 'whsec_8m6QdrX58DS10ZuyRV9R73dtgr8FMyJDeTreYDaoCII=';
  const webhookEx = { id, url, events: [eventType], filter: null, description: 'Kitchen display', enabled: true, disabled: null, failingSince: null, previousSecretExpiresAt: null, createdAt: created, updatedAt: created };
  const attemptEx = { attempt: 1, at: '2026-01-15T12:03:00.120Z', statusCode: 200, latencyMs: 41, error: null, response: 'ok', trigger: 'schedule' };
  const deliveryEx = {
    id: 17,
    webhookId: id,
    messageId: 'evt_000000000041',
    eventType,
    state: 'delivered',
    attempts: 1,
    createdAt: '2026-01-15T12:03:00.000Z',
    nextAttemptAt: null,
    lastAttempt: { at: attemptEx.at, statusCode: 200, latencyMs: 41, error: null },
    deliveredAt: '2026-01-15T12:03:00.161Z',
  };
  const pendingEx = {
    ...deliveryEx,
    id: 18,
    messageId: 'evt_000000000042',
    state: 'pending',
    attempts: 2,
    createdAt: '2026-01-15T12:30:00.000Z',
    nextAttemptAt: '2026-01-15T12:35:05.120Z',
    lastAttempt: { at: '2026-01-15T12:30:05.012Z', statusCode: 503, latencyMs: 12, error: null },
    deliveredAt: null,
  };
  const pingEx = {
    attempt: { ...attemptEx, at: '2026-01-15T12:01:00.050Z', trigger: 'manual' },
    delivery: { ...deliveryEx, id: 12, messageId: 'msg_0b7e2a4c-5d1f-4e3a-9c8b-6f2d1e0a9b7c', eventType: 'webhooks.ping', createdAt: '2026-01-15T12:01:00.000Z', lastAttempt: { at: '2026-01-15T12:01:00.050Z', statusCode: 200, latencyMs: 41, error: null }, deliveredAt: '2026-01-15T12:01:00.091Z' },
  };

  const dateTime = (description: string): Schema => ({ type: 'string', format: 'date-time', description });
  const orNull = (description: string): Schema => ({ type: ['string', 'null'], format: 'date-time', description });
  const webhookIdSchema: Schema = { type: 'string', pattern: '^wh_[0-9a-f]{32}$' };
  const secretSchema: Schema = { type: 'string', pattern: '^whsec_[A-Za-z0-9+/]+={0,2}$', description: '`whsec_` and the base64 key bytes (Standard Webhooks). Shown only here: keep it with the receiver.' };
  const urlSchema: Schema = {
    type: 'string',
    format: 'uri',
    maxLength: 2048,
    description: 'Where deliveries are POSTed: an absolute `http` or `https` URL without credentials, whose host resolves to public addresses only (private and loopback ones with `webhooks.allowPrivateNetworks`; link-local and metadata ones never). Checked again on every connection.',
  };
  const eventsSchema: Schema = {
    type: 'array',
    minItems: 1,
    maxItems: 100,
    items: { type: 'string', minLength: 1, maxLength: 200 },
    description: `Event types (\`${eventType.includes('.') ? eventType : 'orders.ready'}\`), every type of a resource (\`${eventType.includes('.') ? eventType.split('.')[0] : 'orders'}.*\`), every event the principal may read (\`*\`), and Carte's own \`webhooks.disabled\`. Repeated types count once.`,
  };
  const filterSchema: Schema = {
    type: ['object', 'null'],
    additionalProperties: true,
    description: 'Only the items that match, as a WebSocket subscription filters: `{"field": value}`, `{"field": [values]}` (any of), `{"field": {"gte": 100}}` (the operators of collection filters), `{"field": null}` (no value). The events must then all be of one resource.',
  };
  const descriptionSchema: Schema = { type: 'string', maxLength: 1000, description: 'A note for the owner (no NUL).' };

  b.schemas[W] = {
    type: 'object',
    description: 'A registered endpoint as its owner sees it. Never its secret: that is shown once, when the webhook is created and when the secret is rotated.',
    properties: {
      id: { ...webhookIdSchema, description: 'Assigned by the server.' },
      url: { type: 'string', format: 'uri' },
      events: { type: 'array', items: { type: 'string' } },
      filter: { type: ['object', 'null'], additionalProperties: true },
      description: { type: 'string' },
      enabled: { type: 'boolean', description: '`false` once disabled, by its owner (`PATCH {"enabled": false}`) or after failing without a success for `webhooks.disableAfter`.' },
      disabled: {
        type: ['object', 'null'],
        description: 'When and why it was disabled; `null` while enabled.',
        properties: { at: dateTime('When.'), reason: { type: 'string', examples: ['disabled by its owner'] } },
        required: ['at', 'reason'],
      },
      failingSince: orNull('Since when every attempt has failed; `null` while healthy.'),
      previousSecretExpiresAt: orNull('After a rotation, when the previous secret stops signing; `null` when only one secret signs.'),
      createdAt: dateTime('When it was registered.'),
      updatedAt: dateTime('When it last changed (a rotation counts).'),
    },
    required: ['id', 'url', 'events', 'filter', 'description', 'enabled', 'disabled', 'failingSince', 'previousSecretExpiresAt', 'createdAt', 'updatedAt'],
    examples: [webhookEx],
  };
  b.schemas[WCreated] = {
    description: 'The webhook just registered, with its signing secret: the only time it is shown.',
    allOf: [ref('schemas', W), { type: 'object', properties: { secret: secretSchema }, required: ['secret'] }],
  };
  b.schemas[WInput] = {
    type: 'object',
    description: `A webhook as \`POST ${base}\` takes it. Every problem is reported at once (400 \`invalid_webhook\`, one entry of \`errors\` each).`,
    properties: { url: urlSchema, events: eventsSchema, filter: filterSchema, description: descriptionSchema },
    required: ['url', 'events'],
    additionalProperties: false,
    examples: [{ url, events: [eventType], description: 'Kitchen display' }],
  };
  b.schemas[WPatch] = {
    type: 'object',
    description: 'A JSON merge patch (RFC 7396) of a webhook: the members present are set; `"filter": null` removes the filter. `"enabled": true` turns a disabled webhook back on and clears its failure record; `false` turns it off: no new deliveries, and the pending ones fail.',
    properties: { url: urlSchema, events: eventsSchema, filter: filterSchema, description: descriptionSchema, enabled: { type: 'boolean' } },
    additionalProperties: false,
    examples: [{ enabled: false }],
  };
  b.schemas[WSecret] = {
    type: 'object',
    description: 'A new signing secret. The previous one keeps signing until `previousSecretExpiresAt` (`webhooks.secretOverlap`, 24 h by default): meanwhile every delivery carries both signatures.',
    properties: { secret: secretSchema, previousSecretExpiresAt: dateTime('When the previous secret stops signing.') },
    required: ['secret', 'previousSecretExpiresAt'],
    examples: [{ secret, previousSecretExpiresAt: '2026-01-16T12:00:00.000Z' }],
  };
  b.schemas[WAttempt] = {
    type: 'object',
    description: 'One attempt to deliver: what the receiver answered, or why nothing came back.',
    properties: {
      attempt: { type: 'integer', minimum: 1, description: '1 for the first attempt of the delivery, then 2, 3…' },
      at: dateTime('When it started.'),
      statusCode: { type: ['integer', 'null'], description: 'The receiver\'s HTTP status; `null` when none came back (refused, timed out, address refused).' },
      latencyMs: { type: 'integer', minimum: 0 },
      error: { type: ['string', 'null'], description: 'Why it failed without a status (`no answer within 10000 ms`, `connect ECONNREFUSED 203.0.113.10:443`, `the endpoint is disabled`).' },
      response: { type: ['string', 'null'], description: 'The start of the receiver\'s answer (`webhooks.maxResponseBodyLog` bytes).' },
      trigger: { type: 'string', enum: ['schedule', 'manual'], description: '`manual`: a ping or `POST …/attempts`.' },
    },
    required: ['attempt', 'at', 'statusCode', 'latencyMs', 'error', 'response', 'trigger'],
    examples: [attemptEx],
  };
  b.schemas[WDelivery] = {
    type: 'object',
    description: 'One event to deliver to one webhook (a row of the outbox, written in the transaction of the change), and where it stands.',
    properties: {
      id: { type: 'integer', minimum: 1 },
      webhookId: webhookIdSchema,
      messageId: { type: 'string', description: 'The `webhook-id` header: the event id (`evt_…`), or `msg_…` for pings and Carte\'s own events. The same on every attempt.' },
      eventType: { type: 'string', examples: [eventType, 'webhooks.ping'] },
      state: { type: 'string', enum: ['pending', 'delivered', 'failed'], description: '`pending` until a 2xx (`delivered`) or the retry schedule is spent (`failed`).' },
      attempts: { type: 'integer', minimum: 0 },
      createdAt: dateTime('When the event happened (or the ping was asked for).'),
      nextAttemptAt: orNull('When the next attempt is due; `null` once delivered or failed.'),
      lastAttempt: {
        type: ['object', 'null'],
        description: 'The last attempt in short; `null` before the first.',
        properties: { at: dateTime('When it started.'), statusCode: { type: ['integer', 'null'] }, latencyMs: { type: ['integer', 'null'] }, error: { type: ['string', 'null'] } },
        required: ['at', 'statusCode', 'latencyMs', 'error'],
      },
      deliveredAt: orNull('When a 2xx came back.'),
    },
    required: ['id', 'webhookId', 'messageId', 'eventType', 'state', 'attempts', 'createdAt', 'nextAttemptAt', 'lastAttempt', 'deliveredAt'],
    examples: [deliveryEx],
  };
  b.schemas[WDeliveryDetail] = {
    description: 'A delivery with every attempt made.',
    allOf: [ref('schemas', WDelivery), { type: 'object', properties: { attemptLog: { type: 'array', items: ref('schemas', WAttempt) } }, required: ['attemptLog'] }],
  };
  b.schemas[WAttemptResult] = {
    type: 'object',
    description: 'The attempt just made, and its delivery as it now stands.',
    properties: { attempt: ref('schemas', WAttempt), delivery: ref('schemas', WDelivery) },
    required: ['attempt', 'delivery'],
    examples: [pingEx],
  };

  const idParam = b.param('webhookId', () => ({ name: 'id', in: 'path', required: true, description: 'The webhook\'s id (`wh_…`). Another principal\'s webhook is 404.', schema: webhookIdSchema, example: id }));
  const didParam = b.param('webhookDeliveryId', () => ({ name: 'did', in: 'path', required: true, description: 'The delivery\'s id, from the delivery log.', schema: { type: 'integer', minimum: 1 }, example: 17 }));
  const json = (schema: Schema, example: unknown): OpenApiObject => ({ 'application/json': { schema, example } });
  const rate = b.headerSet(['RateLimit', 'RateLimit-Policy']);
  const pageHeaders = b.headerSet(['Content-Range', 'Accept-Range', 'RateLimit', 'RateLimit-Policy']);
  const paging = b.pagingParams(WEBHOOKS_MAX_RANGE, 'webhook', false);
  // Any token with a subject; no scope of its own (registering checks the events against the read rules).
  const security = [{ oauth2: [] }, { bearerAuth: [] }];
  const access =
    'Access: any valid token — an OAuth2 access token, the development token or an API key; no scope of its own. A webhook belongs to the principal that registered it: another principal\'s is 404, and lists hold only the caller\'s. Without a token: 401 `no_credentials`.';
  const checked = `The events are checked against the principal's read rules, as \`GET ${b.prefix}/events\` checks them: a resource it may not read is 401 or 403 (\`insufficient_scope\`, naming the scope), and each delivery is checked again against the read rule on its row (\`owner:\` rules: only the principal's rows).`;
  // 401 and 429 everywhere, 406 on every answer (JSON only); 403 only where events are checked.
  const responses = (extra: Record<string, Schema>): Record<string, Schema> => b.commonErrors(true, { '406': b.error('NotAcceptable'), ...extra });
  const page = (description: string, schema: Schema, example: unknown): Record<string, Schema> => ({
    '200': { description: `${description} (all of them).`, headers: pageHeaders, content: json({ type: 'array', items: schema }, example) },
    '206': { description: `A page of ${description.toLowerCase()}.`, headers: pageHeaders, content: json({ type: 'array', items: schema }, example) },
    '400': b.error('BadRequest'),
    '416': b.error('RangeNotSatisfiable'),
  });
  const pagingNote = `A bare array, oldest first; \`Content-Range\` says which and how many, \`Accept-Range: webhook ${WEBHOOKS_MAX_RANGE}\` the largest page (25 without \`range\` or \`limit\`); 206 when the page is not the whole. No \`Link\` and no \`ETag\`; \`HEAD\` answers the same headers without the body.`;
  const tags = ['Webhooks'];
  const noBody = 'No body (`Content-Type: application/json` with an empty body is 400 `invalid_body`).';
  const add = (method: Methods, path: string, operationId: string, o: OpenApiObject) =>
    b.add({ method, path, operation: { tags, operationId: b.uniqueId(operationId), ...o, description: [o.description, access].filter(Boolean).join('\n\n'), security } });

  add('get', base, 'listWebhooks', {
    summary: 'List your webhooks',
    description: `The webhooks the caller registered, without their secrets. ${pagingNote}`,
    parameters: paging,
    responses: responses(page('Your webhooks', ref('schemas', W), [webhookEx])),
  });
  add('post', base, 'createWebhook', {
    summary: 'Register a webhook',
    description: [
      `Registers an endpoint that Carte POSTs every matching event to, signed the Standard Webhooks way (standardwebhooks.com). 201 with \`Location\` and the webhook with its \`secret\` (\`whsec_…\`): the only time it is shown (\`POST ${base}/{id}/secrets\` makes a new one). At most \`webhooks.maxPerPrincipal\` per principal (409 beyond). ${checked}`,
      `**A delivery** is \`POST <url>\` with \`Content-Type: application/json\` and the event as \`GET ${b.prefix}/events\` shows it (pings and Carte's own events: \`{id, type, occurredAt, data}\`), with three headers:`,
      [
        '- `webhook-id`: the event id (`evt_…`; `msg_…` for pings and Carte\'s events), the same on every retry: receivers de-duplicate by it;',
        '- `webhook-timestamp`: Unix seconds when the attempt was signed;',
        '- `webhook-signature`: `v1,` + the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the base64 bytes after `whsec_`; while a rotated secret still signs, two such signatures separated by a space.',
      ].join('\n'),
      `A 2xx answer delivers it; anything else (an error, a redirect — never followed —, no answer within \`webhooks.timeout\`) is retried on \`webhooks.retrySchedule\` (about 3 days by default), then the delivery fails. An endpoint failing without a success for \`webhooks.disableAfter\` is disabled (a \`webhooks.disabled\` event goes to the owner's webhooks that ask for it). The AsyncAPI document (\`${b.prefix}/asyncapi.json\`) describes the deliveries as a channel.`,
    ].join('\n\n'),
    requestBody: { required: true, content: json(ref('schemas', WInput), { url, events: [eventType], description: 'Kitchen display' }) },
    responses: responses({
      '201': { description: 'Registered: the webhook with its secret.', headers: { Location: b.header('Location'), ...rate }, content: json(ref('schemas', WCreated), { ...webhookEx, secret }) },
      '400': b.error('BadRequest'),
      '403': b.error('Forbidden'),
      '409': b.error('Conflict'),
      '413': b.error('PayloadTooLarge'),
      '415': b.error('UnsupportedMediaType'),
    }),
  });
  add('get', `${base}/{id}`, 'getWebhook', {
    summary: 'Get a webhook',
    description: 'The webhook, without its secret: whether it is enabled, failing (`failingSince`) or disabled (`disabled.reason`).',
    parameters: [idParam],
    responses: responses({ '200': { description: 'The webhook.', headers: rate, content: json(ref('schemas', W), webhookEx) }, '404': b.error('NotFound') }),
  });
  const patchEx = { events: [eventType, 'webhooks.disabled'], description: 'Kitchen display, and word when it is disabled' };
  add('patch', `${base}/{id}`, 'updateWebhook', {
    summary: 'Change a webhook',
    description: `A merge patch of \`url\`, \`events\`, \`filter\`, \`description\` and \`enabled\`, checked as at registration (every problem at once: 400 \`invalid_webhook\`). \`{"enabled": true}\` turns a disabled webhook back on. ${checked}`,
    parameters: [idParam],
    requestBody: { required: true, content: { 'application/merge-patch+json': { schema: ref('schemas', WPatch), example: patchEx }, 'application/json': { schema: ref('schemas', WPatch), example: patchEx } } },
    responses: responses({
      '200': { description: 'The webhook as changed.', headers: rate, content: json(ref('schemas', W), { ...webhookEx, ...patchEx, updatedAt: '2026-01-15T13:00:00.000Z' }) },
      '400': b.error('BadRequest'),
      '403': b.error('Forbidden'),
      '404': b.error('NotFound'),
      '413': b.error('PayloadTooLarge'),
      '415': b.error('UnsupportedMediaType'),
    }),
  });
  add('delete', `${base}/{id}`, 'deleteWebhook', {
    summary: 'Delete a webhook',
    description: 'Deletes the webhook with its delivery log; its pending deliveries are not sent.',
    parameters: [idParam],
    responses: responses({ '204': { description: 'Deleted.', headers: rate }, '404': b.error('NotFound') }),
  });
  add('post', `${base}/{id}/secrets`, 'rotateWebhookSecret', {
    summary: 'Rotate a webhook\'s secret',
    description: `A new secret, shown once. The previous one keeps signing until \`previousSecretExpiresAt\` (\`webhooks.secretOverlap\`): meanwhile each delivery carries both signatures, so the receiver can switch without missing one. ${noBody}`,
    parameters: [idParam],
    responses: responses({ '201': { description: 'The new secret.', headers: rate, content: json(ref('schemas', WSecret), { secret, previousSecretExpiresAt: '2026-01-16T12:00:00.000Z' }) }, '400': b.error('BadRequest'), '404': b.error('NotFound') }),
  });
  add('post', `${base}/{id}/pings`, 'pingWebhook', {
    summary: 'Ping a webhook',
    description: `Sends a signed \`webhooks.ping\` delivery now (\`data: {"webhookId": …}\`), to a disabled webhook too, and answers once the attempt is over (within \`webhooks.timeout\`): what the receiver said, or why it said nothing. A ping is attempted once, never retried; it stays in the delivery log. ${noBody}`,
    parameters: [idParam],
    responses: responses({
      '201': { description: 'The attempt made (a failed one too: see `attempt.statusCode` and `attempt.error`) and its delivery.', headers: rate, content: json(ref('schemas', WAttemptResult), pingEx) },
      '400': b.error('BadRequest'),
      '404': b.error('NotFound'),
      '409': b.error('Conflict'),
    }),
  });
  add('get', `${base}/{id}/deliveries`, 'listWebhookDeliveries', {
    summary: 'Read a webhook\'s delivery log',
    description: `Every delivery to the webhook, pings included, newest first, with the state of each and its last attempt. ${pagingNote.replace('oldest first', 'newest first')}`,
    parameters: [idParam, ...paging],
    responses: responses({ ...page('The deliveries', ref('schemas', WDelivery), [pendingEx, deliveryEx]), '404': b.error('NotFound') }),
  });
  add('get', `${base}/{id}/deliveries/{did}`, 'getWebhookDelivery', {
    summary: 'Get a delivery',
    description: 'The delivery with every attempt made (`attemptLog`).',
    parameters: [idParam, didParam],
    responses: responses({ '200': { description: 'The delivery.', headers: rate, content: json(ref('schemas', WDeliveryDetail), { ...deliveryEx, attemptLog: [attemptEx] }) }, '404': b.error('NotFound') }),
  });
  add('get', `${base}/{id}/deliveries/{did}/attempts`, 'listWebhookDeliveryAttempts', {
    summary: 'List the attempts of a delivery',
    description: 'Every attempt of the delivery, first first: a bare array, not paged.',
    parameters: [idParam, didParam],
    responses: responses({ '200': { description: 'The attempts.', headers: rate, content: json({ type: 'array', items: ref('schemas', WAttempt) }, [attemptEx]) }, '404': b.error('NotFound') }),
  });
  add('post', `${base}/{id}/deliveries/{did}/attempts`, 'retryWebhookDelivery', {
    summary: 'Retry a delivery now',
    description: `One more attempt, made now, whatever the delivery's state (a failed delivery too); the answer is that attempt once it is over. A 2xx marks the delivery delivered; a failure leaves a settled delivery as it was. A disabled webhook's delivery is not sent (the attempt fails: \`the endpoint is disabled\`). 409 while another attempt of it is in flight. ${noBody}`,
    parameters: [idParam, didParam],
    responses: responses({
      '201': { description: 'The attempt made and the delivery as it now stands.', headers: rate, content: json(ref('schemas', WAttemptResult), { attempt: { ...attemptEx, attempt: 3, trigger: 'manual' }, delivery: { ...pendingEx, state: 'delivered', attempts: 3, nextAttemptAt: null, lastAttempt: { at: attemptEx.at, statusCode: 200, latencyMs: 41, error: null }, deliveredAt: '2026-01-15T12:03:00.161Z' } }) },
      '400': b.error('BadRequest'),
      '404': b.error('NotFound'),
      '409': b.error('Conflict'),
    }),
  });
}
