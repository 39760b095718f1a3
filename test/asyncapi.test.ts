/**
 * GET /v1/asyncapi.json (SPEC §9): an AsyncAPI 3.0 document of the event side, valid under
 * the official parser (@asyncapi/parser) with no error diagnostics, describing the
 * WebSocket, SSE and graphql-ws channels, each resource's event payload and the webhook
 * deliveries with their Standard Webhooks headers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Parser } from '@asyncapi/parser';
import { Ajv } from 'ajv';
import { startServer, type TestServer } from './helpers.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed JSON document, read by path in asserts
type Json = Record<string, any>;

describe('AsyncAPI document', () => {
  let t: TestServer;
  let text: string;
  let doc: Json;
  before(async () => {
    t = await startServer();
    const res = await t.request('GET', '/v1/asyncapi.json', { anonymous: true });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    text = res.text;
    doc = res.body as Json;
  });
  after(() => t.close());

  test('the official parser finds no errors', async () => {
    const parser = new Parser();
    const { document, diagnostics } = await parser.parse(text);
    const errors = diagnostics.filter((d) => d.severity === 0);
    assert.deepEqual(errors.map((d) => `${d.path.join('.')}: ${d.message}`), []);
    assert.ok(document);
    assert.equal(document.version(), '3.0.0');
    assert.deepEqual(document.channels().all().map((c) => c.address()).sort(), ['/v1/events', '/v1/graphql', '/v1/ws', '{webhookUrl}']);
    assert.equal(document.operations().all().length, 6);
    // The parser does check: an AsyncAPI 2 action is an error in a 3.0 document.
    const broken = JSON.parse(text) as Json;
    broken.operations.deliverWebhook.action = 'publish';
    const checked = await parser.parse(JSON.stringify(broken));
    assert.ok(checked.diagnostics.some((d) => d.severity === 0));
  });

  test('servers name the host the client reached; public, cacheable with an ETag', async () => {
    const host = new URL(t.url).host;
    assert.equal(doc.servers.ws.host, host);
    assert.equal(doc.servers.ws.protocol, 'ws');
    assert.equal(doc.servers.http.protocol, 'http');
    const res = await t.request('GET', '/v1/asyncapi.json', { anonymous: true });
    const etag = res.headers.get('etag') as string;
    assert.ok(etag);
    assert.equal((await t.request('GET', '/v1/asyncapi.json', { anonymous: true, headers: { 'if-none-match': etag } })).status, 304);
  });

  test('each resource has its event payload, with its item schema and event types', () => {
    const order = doc.components.schemas.OrderEvent;
    assert.deepEqual(order.properties.type.enum, ['orders.created', 'orders.updated', 'orders.deleted', 'orders.placed', 'orders.preparing', 'orders.ready', 'orders.served', 'orders.paid', 'orders.cancelled']);
    assert.deepEqual(order.properties.resource, { const: 'orders' });
    assert.equal(order.properties.data.allOf[0].$ref, '#/components/schemas/Order');
    assert.equal(doc.components.schemas.Order.properties.state.enum.includes('ready'), true);
    for (const name of ['RestaurantEvent', 'DishEvent', 'ClientEvent']) assert.ok(doc.components.schemas[name], name);
    assert.deepEqual(doc.channels.events.messages['orders.event'], { $ref: '#/components/messages/orders.event' });
  });

  test('the WebSocket channel carries the SPEC §7 messages and JSON-RPC', () => {
    const keys = Object.keys(doc.channels.ws.messages).sort();
    assert.deepEqual(keys, ['jsonRpcRequest', 'jsonRpcResponse', 'wsError', 'wsEvent', 'wsPing', 'wsPong', 'wsSubscribe', 'wsSubscribed', 'wsUnsubscribe', 'wsUnsubscribed']);
    const subscribe = doc.components.messages.wsSubscribe.payload;
    assert.deepEqual(subscribe.required, ['type', 'id']);
    assert.deepEqual(Object.keys(subscribe.properties), ['type', 'id', 'resource', 'types', 'filter', 'after']);
    assert.equal(doc.operations.receiveWsMessages.action, 'receive');
    assert.equal(doc.operations.sendWsMessages.action, 'send');
  });

  test('graphql-ws messages and webhook deliveries with their headers', () => {
    assert.match(doc.channels.graphql.description, /ordersChanged\(filter, types, after\)/);
    assert.deepEqual(Object.keys(doc.channels.graphql.messages).sort(), ['gqlComplete', 'gqlConnectionAck', 'gqlConnectionInit', 'gqlError', 'gqlNext', 'gqlPing', 'gqlPong', 'gqlSubscribe']);
    const delivery = doc.components.messages.webhookDelivery;
    assert.deepEqual(delivery.headers.required, ['webhook-id', 'webhook-timestamp', 'webhook-signature']);
    assert.deepEqual(delivery.payload.oneOf.map((s: Json) => s.$ref), ['#/components/schemas/Event', '#/components/schemas/WebhookPing', '#/components/schemas/WebhookDisabled']);
    // The payloads webhook-service.ts sends for a ping and a disabled endpoint fit their schemas.
    const ajv = new Ajv({ strict: false });
    const ping = ajv.compile(doc.components.schemas.WebhookPing);
    assert.ok(ping({ id: 'msg_1', type: 'webhooks.ping', occurredAt: '2026-01-15T12:00:00.000Z', data: { webhookId: 'wh_1' } }), ajv.errorsText(ping.errors));
    assert.equal(ping({ id: 'msg_1', type: 'orders.created', occurredAt: '2026-01-15T12:00:00.000Z', data: { webhookId: 'wh_1' } }), false);
    const disabled = ajv.compile(doc.components.schemas.WebhookDisabled);
    assert.ok(disabled({ id: 'msg_2', type: 'webhooks.disabled', occurredAt: '2026-01-15T12:00:00.000Z', data: { webhook: { id: 'wh_1' }, reason: 'failing since …' } }), ajv.errorsText(disabled.errors));
    assert.equal(doc.operations.deliverWebhook.action, 'send');
  });
});
