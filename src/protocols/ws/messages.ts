/**
 * The WebSocket message shapes of SPEC §7: what a client may send (`subscribe`,
 * `unsubscribe`, `ping`, or a JSON-RPC 2.0 message) and what the server answers
 * (`subscribed`, `event`, `unsubscribed`, `pong`, `error`). Filters use the REST filter
 * model written as JSON, as JSON-RPC params do: `{"state":["ready"],"orderValue":{"gte":20}}`.
 */
import { CarteError, errors } from '../../errors.js';
import type { CarteEvent } from '../../events/types.js';
import type { RawFilter } from '../../query/types.js';

export type ClientMessage =
  | {
      readonly type: 'subscribe';
      readonly id: string;
      readonly resource?: string | readonly string[];
      readonly types?: readonly string[];
      readonly filter?: readonly RawFilter[];
      readonly after?: string;
    }
  | { readonly type: 'unsubscribe'; readonly id: string }
  | { readonly type: 'ping' }
  /** A JSON-RPC 2.0 request, notification or batch (SPEC §5: the same messages as POST /v1/rpc). */
  | { readonly type: 'rpc'; readonly payload: unknown };

const MAX_ID = 100;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function subscriptionId(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID) {
    throw errors.invalidRequest(`A subscription needs an id: a string of 1 to ${MAX_ID} characters, chosen by the client (e.g. "s1").`);
  }
  return value;
}

function stringList(value: unknown, name: string): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every((v) => typeof v === 'string')) throw errors.invalidRequest(`'${name}' must be a string or a list of strings.`);
  return list as string[];
}

/**
 * `{"state":["ready"]}` (any of), `{"state":"ready"}`, `{"rating":{"gte":4}}`,
 * `{"clientId":null}` → raw filters with typed values, checked later against the resource.
 */
export function filterFromJson(value: unknown): RawFilter[] {
  if (value === undefined || value === null) return [];
  if (!isObject(value)) throw errors.invalidRequest('filter must be an object: {"field": value, "field": [values], "field": {"operator": value}}.');
  const filters: RawFilter[] = [];
  for (const [name, spec] of Object.entries(value)) {
    if (spec === null) filters.push({ name, op: 'null', values: [true], raw: false });
    else if (Array.isArray(spec)) filters.push({ name, op: 'eq', values: spec, raw: false });
    else if (isObject(spec)) {
      for (const [op, operand] of Object.entries(spec)) filters.push({ name, op, values: Array.isArray(operand) ? operand : [operand], raw: false });
    } else filters.push({ name, op: 'eq', values: [spec], raw: false });
  }
  return filters;
}

/** Reads one text message; a CarteError names what is wrong (answered as an `error` message). */
export function parseClientMessage(text: string): ClientMessage {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch (e) {
    throw errors.invalidBody(`The message is not valid JSON: ${(e as Error).message}`);
  }
  if (Array.isArray(message) || (isObject(message) && 'jsonrpc' in message)) return { type: 'rpc', payload: message };
  if (!isObject(message)) throw errors.invalidRequest('A message is a JSON object with a type: subscribe, unsubscribe or ping (or a JSON-RPC 2.0 message).');
  switch (message.type) {
    case 'subscribe': {
      const id = subscriptionId(message.id);
      if (message.after !== undefined && typeof message.after !== 'string') throw errors.invalidRequest("'after' must be the id of an event (a cursor).");
      return {
        type: 'subscribe',
        id,
        ...(message.resource !== undefined ? { resource: stringList(message.resource, 'resource') } : {}),
        ...(message.types !== undefined ? { types: stringList(message.types, 'types') } : {}),
        ...(message.filter !== undefined ? { filter: filterFromJson(message.filter) } : {}),
        ...(message.after !== undefined ? { after: message.after as string } : {}),
      };
    }
    case 'unsubscribe':
      return { type: 'unsubscribe', id: subscriptionId(message.id) };
    case 'ping':
      return { type: 'ping' };
    default:
      throw errors.invalidRequest(`Unknown message type ${JSON.stringify(message.type)?.slice(0, 50) ?? 'undefined'}: use subscribe, unsubscribe or ping.`);
  }
}

export function subscribedMessage(id: string): string {
  return JSON.stringify({ type: 'subscribed', id });
}

export function unsubscribedMessage(id: string): string {
  return JSON.stringify({ type: 'unsubscribed', id });
}

const eventJson = new WeakMap<CarteEvent, string>();

/**
 * `{"type":"event","subscription":"s1","event":{…}}` for one subscription: the event's JSON
 * is made once for every socket, the subscription's part once for every event.
 */
export function eventMessages(subscription: string): (event: CarteEvent) => string {
  const head = `{"type":"event","subscription":${JSON.stringify(subscription)},"event":`;
  return (event) => {
    let json = eventJson.get(event);
    if (json === undefined) eventJson.set(event, (json = JSON.stringify(event)));
    return `${head}${json}}`;
  };
}

/** The error body every front end uses (SPEC §4.13), as a message; `id` names the subscription concerned. */
export function errorMessage(error: CarteError, body: Record<string, unknown>, id?: string): string {
  return JSON.stringify({ type: 'error', ...(id !== undefined ? { id } : {}), ...body, status: error.status });
}

/**
 * JSON-RPC 2.0 §5.1 "Method not found" for each request of a payload (notifications get
 * no answer; a batch of them, none at all), when no RPC dispatcher is configured.
 */
export function methodNotFound(payload: unknown): unknown | null {
  const answer = (call: unknown) => {
    if (!isObject(call) || !('id' in call)) return null;
    const method = typeof call.method === 'string' ? call.method : '';
    return { jsonrpc: '2.0', error: { code: -32601, message: 'Method not found', data: { error: 'not_found', error_description: `There is no method '${method.slice(0, 100)}' here` } }, id: call.id ?? null };
  };
  if (!Array.isArray(payload)) return answer(payload);
  if (payload.length === 0) return { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null };
  const answers = payload.map(answer).filter((a) => a !== null);
  return answers.length > 0 ? answers : null;
}
