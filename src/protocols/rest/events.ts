/**
 * `GET /v1/events` (SPEC §7): the event feed as a collection — polled by cursor and paged
 * like any collection (Content-Range, Accept-Range, Link with next-cursor, ETag/304),
 * long-polled with `Prefer: wait=N`, and streamed as server-sent events with
 * `Accept: text/event-stream` (`id:` lines, `Last-Event-ID` resume, heartbeat comments).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { ANONYMOUS } from '../../auth/principal.js';
import { errors } from '../../errors.js';
import type { EventHub, FeedPage } from '../../events/hub.js';
import { encodeEventCursor } from '../../events/cursor.js';
import type { CarteEvent, EventQuery } from '../../events/types.js';
import { acceptRange, parseRange } from '../../query/parse-range.js';
import type { RawFilter } from '../../query/types.js';
import type { ResourceModel } from '../../schema/types.js';
import { contentRange } from './headers.js';
import { hold, preferredWait } from './long-poll.js';
import { negotiate, parsePrefer } from './negotiate.js';
import { toHttpError } from './plugin.js';
import { baseUrlOf, pathOf, sendError, sendValue } from './reply.js';
import { rawQuery, splitList } from './to-input.js';

export interface EventsRestOptions {
  readonly hub: EventHub;
  readonly bodyLimit: number;
  readonly publicUrl?: string;
}

const EVENT_STREAM = 'text/event-stream';
/** Parameters of the feed itself; item filters are `data.<field>`. */
const FEED_PARAMS = new Set(['after', 'resource', 'type', 'range', 'limit', 'offset']);
/** Parameters other front ends read from any URL (tokens, versions, JSONP). */
const IGNORED = new Set(['access_token', 'version', 'callback', 'method', 'wait']);

interface FeedInput {
  readonly query: Omit<EventQuery, 'principal'>;
  readonly after: string | undefined;
  readonly params: URLSearchParams;
}

function parseFeedQuery(url: string): FeedInput {
  const params = new URLSearchParams(rawQuery(url));
  const resources: string[] = [];
  const types: string[] = [];
  const filter: RawFilter[] = [];
  for (const [key, value] of params) {
    if (key === 'resource') resources.push(...splitList(value).filter(Boolean));
    else if (key === 'type') types.push(...splitList(value).filter(Boolean));
    else if (key.startsWith('data.')) {
      // `data.state=ready`, `data.rating[gte]=4`: the item inside each event, in the REST filter syntax.
      const m = /^data\.([^[\]]+)(?:\[([^[\]]*)\])?$/.exec(key);
      if (!m) throw errors.invalidRequest(`Malformed filter '${key.slice(0, 100)}': expected data.<field> or data.<field>[<operator>].`);
      filter.push({ name: m[1] as string, op: m[2] ?? 'eq', values: splitList(value), raw: true });
    } else if (!FEED_PARAMS.has(key) && !IGNORED.has(key)) {
      throw errors.invalidRequest(
        `There is no '${key.slice(0, 100)}' parameter on events; use after, resource, type, range or limit/offset, and data.<field> to filter on the items.`,
      );
    }
  }
  const afters = params.getAll('after');
  if (afters.length > 1) throw errors.invalidRequest('Give one cursor in after.');
  return {
    query: { ...(resources.length ? { resource: resources } : {}), ...(types.length ? { types } : {}), ...(filter.length ? { filter } : {}) },
    after: afters[0],
    params,
  };
}

function pageUrl(base: string, params: URLSearchParams, set: Record<string, string>): string {
  const p = new URLSearchParams();
  for (const [k, v] of params) if (!['range', 'limit', 'offset', 'after'].includes(k)) p.append(k, v);
  for (const [k, v] of Object.entries(set)) p.set(k, v);
  return `${base}?${p.toString().replace(/%2C/gi, ',').replace(/%5B/gi, '[').replace(/%5D/gi, ']')}`;
}

/**
 * RFC 8288 links of a feed page: first/prev/next/last pages of the request's size after
 * the same cursor, and `next-cursor`, the position to poll from next (always present).
 */
function feedLinks(base: string, params: URLSearchParams, page: FeedPage, cursor: string | null, offset: number, limit: number): string {
  const style = params.has('limit') || params.has('offset') ? 'limit' : 'range';
  const at: Record<string, string> = cursor === null ? {} : { after: cursor };
  const links: string[] = [];
  const add = (rel: string, first: number) =>
    links.push(`<${pageUrl(base, params, { ...at, ...(style === 'range' ? { range: `${first}-${first + limit - 1}` } : { offset: String(first), limit: String(limit) }) })}>; rel="${rel}"`);
  const returned = page.events.length;
  add('first', 0);
  if (offset > 0) add('prev', Math.max(0, offset - limit));
  const more = page.total === null ? returned === limit : offset + returned < page.total;
  if (more) add('next', offset + limit);
  if (page.total !== null && page.total > 0) add('last', Math.max(0, page.total - limit));
  links.push(`<${pageUrl(base, params, { after: page.nextCursor, limit: String(limit) })}>; rel="next-cursor"`);
  return links.join(', ');
}

export async function eventsRestPlugin(app: FastifyInstance, options: EventsRestOptions): Promise<void> {
  const { hub } = options;
  const url = `/v${hub.api.version}/events`;
  const pseudo = { maxRange: hub.config.maxRange, singular: 'event' } as ResourceModel;

  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const carte = toHttpError(error, options.bodyLimit, request.headers['content-type']);
    if (carte.status >= 500) request.log.error({ err: carte.cause ?? error, requestId: request.id, url: pathOf(request) }, 'request failed');
    return sendError(request, reply, carte, baseUrlOf(request, options.publicUrl));
  });

  app.get(url, async (request, reply) => {
    const input = parseFeedQuery(request.url);
    const principal = request.principal ?? ANONYMOUS;
    const baseUrl = baseUrlOf(request, options.publicUrl);
    const type = negotiate(request.headers.accept, ['application/json', EVENT_STREAM]);
    if (type === null) throw errors.notAcceptable(['application/json', EVENT_STREAM]);
    if (type === EVENT_STREAM && request.method === 'GET') {
      const lastEventId = request.headers['last-event-id'];
      const after = typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : input.after;
      return streamEvents(request, reply, hub, { ...input.query, principal, baseUrl, ...(after !== undefined ? { after } : {}) });
    }
    const param = (name: string) => input.params.get(name) ?? undefined;
    const range = parseRange(pseudo, { range: param('range'), limit: param('limit'), offset: param('offset') }, [], 'event');
    if (range.kind !== 'offset') throw errors.invalidRequest('The feed pages by after with range or limit/offset.');
    const selection = hub.select({ ...input.query, principal });
    const count = parsePrefer(request.headers.prefer).count !== 'none';
    const waitMs = range.offset === 0 ? preferredWait(request, reply, hub) : null;
    const deadline = waitMs === null ? 0 : Date.now() + waitMs;
    // Listening before the read: an event committed in between still wakes the request.
    const waiter = waitMs === null ? null : hub.waiters.open(selection.resources, (e) => selection.matches(e));
    let page: FeedPage;
    try {
      page = await hub.readFeed(selection, { ...(input.after !== undefined ? { after: input.after } : {}), offset: range.offset, limit: range.limit, count }, baseUrl);
      if (waiter && page.events.length === 0 && (await hold(request, reply, waiter, deadline))) {
        page = hub.caughtPage(waiter.take(), page.after, range.limit, baseUrl);
      }
    } finally {
      waiter?.close();
    }
    return sendFeed(request, reply, hub, page, input, range.offset, range.limit, baseUrl);
  });

  app.route({
    method: 'OPTIONS',
    url,
    handler: async (_request, reply) => reply.header('Allow', 'GET, HEAD, OPTIONS').code(204).send(),
  });
  app.route({
    method: ['POST', 'PUT', 'PATCH', 'DELETE'] as HTTPMethods[],
    url,
    handler: async (request) => {
      throw errors.methodNotAllowed(request.method, ['GET', 'HEAD', 'OPTIONS'], `The event feed is read-only: events are written by changes to the items.`);
    },
  });
}

function sendFeed(request: FastifyRequest, reply: FastifyReply, hub: EventHub, page: FeedPage, input: FeedInput, offset: number, limit: number, baseUrl: string) {
  const accept = acceptRange('event', hub.config.maxRange);
  const returned = page.events.length;
  if (returned === 0 && offset > 0 && page.total !== null && page.total > 0) {
    // SPEC §4.3, as for any collection: a start beyond the end is 416.
    throw errors.rangeNotSatisfiable(`${page.total} event${page.total === 1 ? '' : 's'} follow the cursor; the range starts at ${offset}`, {
      'Content-Range': `*/${page.total}`,
      'Accept-Range': accept,
    });
  }
  reply.header('Content-Range', contentRange({ first: offset, last: offset + returned - 1, total: page.total }));
  reply.header('Accept-Range', accept);
  const cursor = input.after === undefined ? null : encodeEventCursor(page.after);
  reply.header('Link', feedLinks(baseUrl + pathOf(request), input.params, page, cursor, offset, limit));
  const partial = page.total === null ? offset > 0 || returned === limit : returned < page.total;
  return sendValue(request, reply, partial ? 206 : 200, page.events);
}

/** Writes events to a client as a `text/event-stream` (WHATWG HTML §9.2). */
async function streamEvents(request: FastifyRequest, reply: FastifyReply, hub: EventHub, options: Parameters<EventHub['subscribe']>[0]): Promise<void> {
  const res = reply.raw;
  let closed = false;
  let waiting: (() => void) | null = null;
  const end = () => {
    if (closed) return;
    closed = true;
    waiting?.();
    res.end();
  };
  const write = (text: string): void | Promise<void> => {
    if (closed) return;
    const ok = res.write(text);
    if (res.writableLength > hub.config.bufferBytes) {
      // A consumer too slow to read is let go rather than buffered without bound; it
      // reconnects with Last-Event-ID and misses nothing within retention.
      hub.countSlowConsumer();
      request.log.warn({ buffered: res.writableLength }, 'event stream closed: slow consumer');
      end();
      return;
    }
    if (!ok) return new Promise<void>((resolve) => {
      waiting = resolve;
      res.once('drain', () => {
        waiting = null;
        resolve();
      });
    });
  };
  const unsubscribe = await hub.subscribe(options, (event: CarteEvent) => write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`));
  reply.hijack();
  const headers: Record<string, string | number | string[]> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value;
  res.writeHead(200, {
    ...headers,
    'content-type': `${EVENT_STREAM}; charset=utf-8`,
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  // A first comment sends the headers now, so the client knows it is connected.
  res.write(': connected\n\n');
  const stopBeat = hub.onHeartbeat(() => void write(': heartbeat\n\n'));
  const untrack = hub.track('sse', async () => end());
  // SPEC §8: the stream ends when its token or key expires or is revoked (an `error` event says why).
  const stopWatch = hub.watchCredential(options.principal, (error) => {
    void write(`event: error\ndata: ${JSON.stringify({ error: error.code, error_description: error.description })}\n\n`);
    end();
  });
  const cleanUp = () => {
    closed = true;
    waiting?.();
    unsubscribe();
    stopBeat();
    stopWatch();
    untrack();
  };
  res.once('close', cleanUp);
  if (request.raw.socket?.destroyed) cleanUp(); // the client left while we subscribed
}
