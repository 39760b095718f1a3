/**
 * Long polling over REST (SPEC §7, RFC 7240 `Prefer: wait=N`): an item GET carrying
 * `If-None-Match` is held until the item's ETag differs (answered at once with it), the
 * item is deleted (404), the wait ends or the server shuts down (304). Held requests are
 * woken by the event bus through a Waiter — never by polling the database.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EventHub } from '../../events/hub.js';
import { itemKey, type Waiter } from '../../events/waiters.js';
import type { ResourceService } from '../../service/resource-service.js';
import type { ItemResult } from '../../service/types.js';
import type { MaybePromise } from '../../store/store.js';
import { parsePrefer } from './negotiate.js';
import { noneMatch } from './reply.js';

/**
 * The wait a request prefers, capped by `events.maxWait`, in ms; null when it asks for
 * none. Says so in `Preference-Applied` (RFC 7240 §3), whether or not it ends up waiting.
 */
export function preferredWait(request: FastifyRequest, reply: FastifyReply, hub: EventHub): number | null {
  const wait = parsePrefer(request.headers.prefer).wait;
  if (wait === undefined) return null;
  const ms = Math.min(wait * 1000, hub.config.maxWait);
  reply.header('Preference-Applied', `wait=${Math.ceil(ms / 1000)}`);
  return ms > 0 ? ms : null;
}

/**
 * Waits on `waiter` until it catches an event, the deadline passes, the server shuts down
 * or the client disconnects. Returns whether an event was caught.
 */
export async function hold(request: FastifyRequest, reply: FastifyReply, waiter: Waiter, deadline: number): Promise<boolean> {
  const abort = () => waiter.abort();
  reply.raw.once('close', abort);
  if (request.raw.socket?.destroyed) waiter.abort(); // gone before we started listening
  try {
    request.log.debug({ until: new Date(deadline).toISOString() }, 'long poll held');
    return (await waiter.wait(deadline)) === 'event';
  } finally {
    reply.raw.removeListener('close', abort);
  }
}

export interface ItemPoll {
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
  /** Absent when the events room is not wired: the GET is answered at once. */
  readonly hub: EventHub | undefined;
  readonly service: ResourceService;
  readonly resource: string;
  readonly id: string;
}

/**
 * The item a GET should answer with: at once without `Prefer: wait` and `If-None-Match`;
 * otherwise the first version whose ETag differs, or — when the wait ends — the current
 * one (which the caller's conditional reply turns into a 304).
 */
export async function holdItemGet(poll: ItemPoll, load: () => MaybePromise<ItemResult>): Promise<ItemResult> {
  const { request, reply, hub } = poll;
  if (!hub || request.headers['if-none-match'] === undefined) return load();
  const waitMs = preferredWait(request, reply, hub);
  const key = poll.service.parseKey(poll.service.resource(poll.resource), poll.id);
  if (waitMs === null || key === null) return load();
  const deadline = Date.now() + waitMs;
  // Listening before the first read: a change committed in between still wakes us.
  const waiter = hub.waiters.open([itemKey(poll.resource, String(key))], () => true);
  try {
    let item = await load();
    while (noneMatch(request, item.etag)) {
      if (!(await hold(request, reply, waiter, deadline))) break;
      waiter.take();
      item = await load(); // a deletion throws not_found: the client learns it at once
    }
    return item;
  } finally {
    waiter.close();
  }
}
