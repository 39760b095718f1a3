/**
 * The AsyncAPI 3.0 document of the event side (SPEC §7, §9), generated from the model: the
 * WebSocket channel `/v1/ws` (subscribe/unsubscribe/event/error and JSON-RPC messages), the
 * server-sent events of `GET /v1/events`, GraphQL subscriptions over graphql-transport-ws at
 * `/v1/graphql`, the event payload of each resource, and webhook deliveries with their
 * Standard Webhooks headers. Built once; only the servers depend on the host asked.
 */
import type { FastifyInstance } from 'fastify';
import { eventTypesOf } from '../events/recorder.js';
import { pascal } from '../protocols/graphql/build-schema.js';
import { subscriptionFieldName } from '../protocols/graphql/subscriptions.js';
import { baseUrlOf, noneMatch, strongEtag } from '../protocols/rest/reply.js';
import { itemSchema } from '../schema/json-schema.js';
import type { ApiModel } from '../schema/types.js';

type Json = Record<string, unknown>;

const ref = (path: string): Json => ({ $ref: path });
const message = (name: string): Json => ref(`#/components/messages/${name}`);
const schema = (name: string): Json => ref(`#/components/schemas/${name}`);

/** `orders` → `OrderEvent` (the same names as the GraphQL schema's event types). */
function eventSchemaName(api: ApiModel, resource: string): string {
  return `${pascal(api.resources.get(resource)?.singular ?? resource)}Event`;
}

const ERROR_SCHEMA: Json = {
  type: 'object',
  description: 'The error structure of every front end (SPEC §4.13).',
  required: ['error', 'error_description'],
  properties: {
    error: { type: 'string', description: 'The error code (docs/errors.md).' },
    error_description: { type: 'string' },
    error_uri: { type: 'string', format: 'uri' },
    errors: {
      type: 'array',
      description: 'Validation problems, all at once.',
      items: { type: 'object', properties: { field: { type: 'string' }, error: { type: 'string' }, error_description: { type: 'string' } } },
    },
  },
};

const STRING_OR_LIST: Json = { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] };

/** The WebSocket messages of `/v1/ws` (src/protocols/ws/messages.ts). */
function wsMessages(eventSchemas: Json[]): Record<string, Json> {
  return {
    wsSubscribe: {
      name: 'subscribe',
      title: 'Subscribe',
      summary: 'Starts a subscription to change events; `after` replays what came after an event id first.',
      payload: {
        type: 'object',
        required: ['type', 'id'],
        properties: {
          type: { const: 'subscribe' },
          id: { type: 'string', minLength: 1, maxLength: 100, description: 'Chosen by the client; names the subscription in later messages.' },
          resource: { ...STRING_OR_LIST, description: 'One resource or several; none: every resource the principal may read.' },
          types: { ...STRING_OR_LIST, description: 'Event types, e.g. `orders.ready`.' },
          filter: { type: 'object', description: 'The REST filter model as JSON: `{"state":["ready"],"orderValue":{"gte":20}}` (needs one resource).' },
          after: { type: 'string', description: 'An event id (or `now`): resume after it, with no gap within retention.' },
        },
      },
      examples: [{ name: 'readyOrders', payload: { type: 'subscribe', id: 's1', resource: 'orders', filter: { state: ['ready'] }, after: 'evt_00000000001' } }],
    },
    wsUnsubscribe: {
      name: 'unsubscribe',
      title: 'Unsubscribe',
      payload: { type: 'object', required: ['type', 'id'], properties: { type: { const: 'unsubscribe' }, id: { type: 'string' } } },
    },
    wsPing: { name: 'ping', title: 'Ping', summary: 'Answered with `pong`.', payload: { type: 'object', required: ['type'], properties: { type: { const: 'ping' } } } },
    wsSubscribed: {
      name: 'subscribed',
      title: 'Subscribed',
      payload: { type: 'object', required: ['type', 'id'], properties: { type: { const: 'subscribed' }, id: { type: 'string' } } },
    },
    wsUnsubscribed: {
      name: 'unsubscribed',
      title: 'Unsubscribed',
      payload: { type: 'object', required: ['type', 'id'], properties: { type: { const: 'unsubscribed' }, id: { type: 'string' } } },
    },
    wsPong: { name: 'pong', title: 'Pong', payload: { type: 'object', required: ['type'], properties: { type: { const: 'pong' } } } },
    wsEvent: {
      name: 'event',
      title: 'Event',
      summary: 'One committed change, for one subscription.',
      payload: {
        type: 'object',
        required: ['type', 'subscription', 'event'],
        properties: { type: { const: 'event' }, subscription: { type: 'string' }, event: { oneOf: eventSchemas } },
      },
    },
    wsError: {
      name: 'error',
      title: 'Error',
      summary: 'A message or subscription refused; `id` names the subscription concerned.',
      payload: {
        allOf: [
          schema('Error'),
          { type: 'object', required: ['type', 'status'], properties: { type: { const: 'error' }, id: { type: 'string' }, status: { type: 'integer', minimum: 400, maximum: 599 } } },
        ],
      },
    },
    jsonRpcRequest: {
      name: 'jsonrpc-request',
      title: 'JSON-RPC 2.0 request',
      summary: 'The same requests, notifications and batches as `POST /v1/rpc` (SPEC §5).',
      payload: { oneOf: [schema('JsonRpcRequest'), { type: 'array', minItems: 1, items: schema('JsonRpcRequest') }] },
    },
    jsonRpcResponse: {
      name: 'jsonrpc-response',
      title: 'JSON-RPC 2.0 response',
      payload: { oneOf: [schema('JsonRpcResponse'), { type: 'array', items: schema('JsonRpcResponse') }] },
    },
  };
}

/** graphql-transport-ws (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md). */
function graphqlWsMessages(api: ApiModel): Record<string, Json> {
  const fields = [...api.resources.keys()].map(subscriptionFieldName);
  const typed = (type: string, extra: Json = {}, required: string[] = []): Json => ({
    type: 'object',
    required: ['type', ...required],
    properties: { type: { const: type }, ...extra },
  });
  return {
    gqlConnectionInit: {
      name: 'connection_init',
      title: 'connection_init',
      summary: 'First message: the bearer token in `payload.authorization` (a bad one closes the socket with 4403).',
      payload: typed('connection_init', { payload: { type: 'object', properties: { authorization: { type: 'string', pattern: '^Bearer .+' } } } }),
    },
    gqlConnectionAck: { name: 'connection_ack', title: 'connection_ack', payload: typed('connection_ack', { payload: { type: 'object' } }) },
    gqlPing: { name: 'ping', title: 'ping', payload: typed('ping', { payload: { type: 'object' } }) },
    gqlPong: { name: 'pong', title: 'pong', payload: typed('pong', { payload: { type: 'object' } }) },
    gqlSubscribe: {
      name: 'subscribe',
      title: 'subscribe',
      summary: `Runs an operation: a subscription (${fields.join(', ')}), or a query or mutation.`,
      payload: typed(
        'subscribe',
        {
          id: { type: 'string' },
          payload: {
            type: 'object',
            required: ['query'],
            properties: { query: { type: 'string' }, variables: { type: ['object', 'null'] }, operationName: { type: ['string', 'null'] }, extensions: { type: ['object', 'null'] } },
          },
        },
        ['id', 'payload'],
      ),
      examples: [{ name: 'readyOrders', payload: { type: 'subscribe', id: '1', payload: { query: 'subscription { ordersChanged(types: ["orders.ready"]) { id type data { id state } } }' } } }],
    },
    gqlNext: {
      name: 'next',
      title: 'next',
      summary: 'One result: `data.<resource>Changed` is the event (GraphQL types `<Type>Event`).',
      payload: typed('next', { id: { type: 'string' }, payload: { type: 'object', properties: { data: { type: ['object', 'null'] }, errors: { type: 'array', items: schema('GraphqlError') } } } }, ['id', 'payload']),
    },
    gqlError: {
      name: 'error',
      title: 'error',
      summary: 'The operation was refused (validation, limits): errors with `extensions.code`.',
      payload: typed('error', { id: { type: 'string' }, payload: { type: 'array', items: schema('GraphqlError') } }, ['id', 'payload']),
    },
    gqlComplete: { name: 'complete', title: 'complete', payload: typed('complete', { id: { type: 'string' } }, ['id']) },
  };
}

/** The document without servers (they name the host the client reached). */
export function buildAsyncApi(api: ApiModel): Json {
  const prefix = `/v${api.version}`;
  const schemas: Record<string, Json> = {};
  const messages: Record<string, Json> = {};
  const eventMessages: Record<string, Json> = {};
  const eventSchemas: Json[] = [];

  for (const resource of api.resources.values()) {
    const T = pascal(resource.singular);
    schemas[T] = { ...itemSchema(resource, 'read'), description: `A ${resource.singular} as a GET shows it.` };
    const name = eventSchemaName(api, resource.name);
    schemas[name] = {
      type: 'object',
      description: `A committed change of ${resource.name} (SPEC §7).`,
      required: ['id', 'type', 'resource', 'resourceId', 'occurredAt', 'data'],
      properties: {
        id: { type: 'string', pattern: '^evt_[0-9a-z]+$', description: 'The event id: the cursor to resume after (`after`, `Last-Event-ID`).' },
        type: { type: 'string', enum: eventTypesOf(resource) },
        resource: { const: resource.name },
        resourceId: { type: 'string' },
        occurredAt: { type: 'string', format: 'date-time' },
        data: {
          description: `The ${resource.singular} as the change left it (as it was, for a deletion), with the fields the change touched.`,
          allOf: [schema(T), { type: 'object', required: ['changes'], properties: { changes: { type: 'array', items: { type: 'string' } } } }],
        },
      },
    };
    eventSchemas.push(schema(name));
    const messageName = `${resource.name.replace(/[^\w.-]/g, '_')}.event`;
    const event: Json = {
      name: messageName,
      title: `${T} event`,
      summary: `${eventTypesOf(resource).join(', ')}`,
      contentType: 'application/json',
      payload: schema(name),
    };
    messages[messageName] = event;
    eventMessages[messageName] = message(messageName);
  }
  schemas.Event = { oneOf: eventSchemas };
  schemas.Error = ERROR_SCHEMA;
  schemas.GraphqlError = {
    type: 'object',
    required: ['message'],
    properties: {
      message: { type: 'string' },
      locations: { type: 'array', items: { type: 'object', properties: { line: { type: 'integer' }, column: { type: 'integer' } } } },
      path: { type: 'array', items: { type: ['string', 'integer'] } },
      extensions: { type: 'object', properties: { code: { type: 'string' }, status: { type: 'integer' }, error_uri: { type: 'string' } } },
    },
  };
  schemas.JsonRpcRequest = {
    type: 'object',
    required: ['jsonrpc', 'method'],
    properties: { jsonrpc: { const: '2.0' }, method: { type: 'string', examples: ['orders.list', 'orders.get'] }, params: { type: ['object', 'array'] }, id: { type: ['string', 'integer', 'null'] } },
  };
  schemas.JsonRpcResponse = {
    type: 'object',
    required: ['jsonrpc', 'id'],
    properties: {
      jsonrpc: { const: '2.0' },
      result: {},
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: { code: { type: 'integer' }, message: { type: 'string' }, data: ERROR_SCHEMA },
      },
      id: { type: ['string', 'integer', 'null'] },
    },
  };

  const ws = wsMessages(eventSchemas);
  const gql = graphqlWsMessages(api);
  Object.assign(messages, ws, gql);
  const headers: Json = {
    type: 'object',
    required: ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
    properties: {
      'webhook-id': { type: 'string', description: 'The event id; the same on every retry: receivers de-duplicate by it.' },
      'webhook-timestamp': { type: 'string', pattern: '^[0-9]+$', description: 'Seconds since the epoch when the attempt was signed.' },
      'webhook-signature': {
        type: 'string',
        pattern: '^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$',
        description: 'Standard Webhooks: `v1,` + base64 HMAC-SHA256 with the endpoint secret (`whsec_…`) of `{webhook-id}.{webhook-timestamp}.{body}`.',
      },
      'content-type': { const: 'application/json' },
    },
  };
  messages.webhookDelivery = {
    name: 'webhook-delivery',
    title: 'Webhook delivery',
    summary: 'A POST to a registered URL for each matching event; 2xx = delivered, otherwise retried with exponential backoff (SPEC §7).',
    contentType: 'application/json',
    headers,
    payload: { oneOf: [schema('Event'), schema('WebhookPing'), schema('WebhookDisabled')] },
  };
  // The two deliveries that are not a resource's event (webhook-service.ts).
  const systemMessage = (type: string, data: Json, description: string): Json => ({
    type: 'object',
    description,
    required: ['id', 'type', 'occurredAt', 'data'],
    properties: { id: { type: 'string', description: 'The message id (`msg_…`), also in `webhook-id`.' }, type: { const: type }, occurredAt: { type: 'string', format: 'date-time' }, data },
  });
  schemas.WebhookPing = systemMessage(
    'webhooks.ping',
    { type: 'object', required: ['webhookId'], properties: { webhookId: { type: 'string' } } },
    `\`POST ${prefix}/webhooks/{id}/pings\`: one signed attempt to test the receiver; never retried.`,
  );
  schemas.WebhookDisabled = systemMessage(
    'webhooks.disabled',
    { type: 'object', required: ['webhook', 'reason'], properties: { webhook: { type: 'object', description: 'The disabled endpoint as `GET /webhooks/{id}` shows it.' }, reason: { type: 'string' } } },
    'Sent to the same owner\'s other endpoints that ask for `webhooks.disabled` when one of them is disabled after failing too long.',
  );

  const channel = (keys: string[]) => Object.fromEntries(keys.map((k) => [k, message(k)]));
  const op = (action: 'send' | 'receive', channelName: string, keys: string[], extra: Json = {}): Json => ({
    action,
    channel: ref(`#/channels/${channelName}`),
    messages: keys.map((k) => ref(`#/channels/${channelName}/messages/${k}`)),
    ...extra,
  });
  const wsIn = ['wsSubscribe', 'wsUnsubscribe', 'wsPing', 'jsonRpcRequest'];
  const wsOut = ['wsSubscribed', 'wsUnsubscribed', 'wsEvent', 'wsPong', 'wsError', 'jsonRpcResponse'];
  const gqlIn = ['gqlConnectionInit', 'gqlSubscribe', 'gqlPing', 'gqlPong', 'gqlComplete'];
  const gqlOut = ['gqlConnectionAck', 'gqlNext', 'gqlError', 'gqlComplete', 'gqlPing', 'gqlPong'];
  const events = Object.keys(eventMessages);

  return {
    asyncapi: '3.0.0',
    info: {
      title: `${api.name} — events`,
      version: String(api.version),
      description: `The event side of ${api.name}: every committed change emits one event (SPEC §7), delivered over WebSocket (\`${prefix}/ws\`), server-sent events (\`GET ${prefix}/events\`), GraphQL subscriptions (\`${prefix}/graphql\`, graphql-transport-ws) and webhooks. Authenticate with a bearer token (the \`Authorization\` header, the \`access_token\` query parameter for browsers, or \`connectionParams.authorization\` over graphql-ws).`,
    },
    defaultContentType: 'application/json',
    channels: {
      ws: {
        address: `${prefix}/ws`,
        title: 'WebSocket',
        description: 'Subscriptions with the REST filter model, `after` resume, heartbeats (pings), and JSON-RPC 2.0 on the same socket. A client too slow to read is closed with 1008.',
        servers: [ref('#/servers/ws')],
        messages: channel([...new Set([...wsIn, ...wsOut])]),
        bindings: { ws: { query: { type: 'object', properties: { access_token: { type: 'string', description: 'A bearer token, for browsers (RFC 6750 §2.3).' } } } } },
      },
      events: {
        address: `${prefix}/events`,
        title: 'Server-sent events',
        description: 'GET with `Accept: text/event-stream`: each event is sent as `id: <event id>`, `event: <type>`, `data: <event JSON>`; `Last-Event-ID` (or `after`) resumes; query `resource`, `type` and the REST filters narrow. Without the Accept header, the same URL is the polling feed.',
        servers: [ref('#/servers/http')],
        messages: eventMessages,
      },
      graphql: {
        address: `${prefix}/graphql`,
        title: 'GraphQL subscriptions',
        description: `graphql-transport-ws (subprotocol \`graphql-transport-ws\`): subscriptions ${[...api.resources.keys()].map((r) => `\`${subscriptionFieldName(r)}(filter, types, after)\``).join(', ')}, and queries and mutations.`,
        servers: [ref('#/servers/ws')],
        messages: channel([...new Set([...gqlIn, ...gqlOut])]),
      },
      webhooks: {
        address: '{webhookUrl}',
        title: 'Webhook deliveries',
        description: `POSTs to each URL registered with \`POST ${prefix}/webhooks\` for the events it chose; at least once, retried with backoff; verify the signature with the endpoint's secret.`,
        parameters: { webhookUrl: { description: 'The path of the registered URL.' } },
        servers: [ref('#/servers/receiver')],
        messages: { webhookDelivery: message('webhookDelivery') },
      },
    },
    operations: {
      receiveWsMessages: op('receive', 'ws', wsIn, { summary: 'What a client sends on the socket.' }),
      sendWsMessages: op('send', 'ws', wsOut, { summary: 'What the server sends on the socket.' }),
      streamEvents: op('send', 'events', events, {
        summary: 'The event stream.',
        bindings: {
          http: {
            method: 'GET',
            query: {
              type: 'object',
              properties: {
                after: { type: 'string', description: 'An event id, or `now`.' },
                resource: { type: 'string' },
                type: { type: 'string', description: 'An event type, e.g. `orders.ready`.' },
              },
            },
          },
        },
      }),
      receiveGraphqlMessages: op('receive', 'graphql', gqlIn, { summary: 'What a graphql-ws client sends.' }),
      sendGraphqlMessages: op('send', 'graphql', gqlOut, { summary: 'What the server sends to a graphql-ws client.' }),
      deliverWebhook: op('send', 'webhooks', ['webhookDelivery'], { summary: 'One delivery attempt of one event to one endpoint.' }),
    },
    components: {
      schemas,
      messages,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT or API key', description: 'An access token from POST /oauth/token, or an API key.' },
        accessToken: { type: 'httpApiKey', name: 'access_token', in: 'query', description: 'The bearer token in the query, where a browser cannot set a header.' },
      },
    },
  };
}

/** The servers for a base URL (exported for `carte` tooling and tests) (`http://127.0.0.1:3000`). */
export function serversFor(baseUrl: string): Json {
  const url = new URL(baseUrl);
  const secure = url.protocol === 'https:';
  const security = [ref('#/components/securitySchemes/bearer'), ref('#/components/securitySchemes/accessToken')];
  return {
    ws: { host: url.host, protocol: secure ? 'wss' : 'ws', description: 'WebSocket (`/v1/ws`, and graphql-ws at `/v1/graphql`).', security },
    http: { host: url.host, protocol: secure ? 'https' : 'http', description: 'Server-sent events.', security },
    receiver: {
      host: '{receiverHost}',
      protocol: 'https',
      description: 'A webhook receiver: the host of a URL registered with POST /v1/webhooks.',
      variables: { receiverHost: { default: 'example.com', description: 'The receiver host.' } },
    },
  };
}

export interface AsyncApiPluginOptions {
  readonly api: ApiModel;
  readonly publicUrl?: string;
}

/** `GET /v1/asyncapi.json` (public): the document, built once; servers per host (a few kept). */
export async function asyncapiPlugin(app: FastifyInstance, options: AsyncApiPluginOptions): Promise<void> {
  const document = buildAsyncApi(options.api);
  const byBase = new Map<string, { body: string; etag: string }>();
  app.get(`/v${options.api.version}/asyncapi.json`, async (request, reply) => {
    const base = baseUrlOf(request, options.publicUrl);
    let cached = byBase.get(base);
    if (!cached) {
      const { asyncapi, info, ...rest } = document;
      const body = JSON.stringify({ asyncapi, info, servers: serversFor(base), ...rest });
      cached = { body, etag: strongEtag(body) };
      if (byBase.size >= 16) byBase.delete(byBase.keys().next().value as string);
      byBase.set(base, cached);
    }
    reply.header('ETag', cached.etag).header('Cache-Control', 'no-cache');
    if (noneMatch(request, cached.etag)) return reply.code(304).send();
    return reply.code(200).type('application/json; charset=utf-8').send(cached.body);
  });
}
