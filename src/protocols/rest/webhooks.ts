/**
 * `/v1/webhooks` (SPEC §7): register, list, read, change and delete endpoints, rotate their
 * secret, read the delivery log, retry a delivery now and ping. A thin translation of the
 * webhook service: JSON in, JSON out, errors in the SPEC §4.13 structure; collections page
 * with `range` or `limit`/`offset` and answer `Content-Range` like any collection.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { errors } from '../../errors.js';
import type { CallContext } from '../../service/types.js';
import type { Paged, WebhookService } from '../../webhooks/webhook-service.js';
import { contentRange } from './headers.js';
import { negotiate } from './negotiate.js';
import { toHttpError } from './plugin.js';
import { baseUrlOf, pathOf, sendError } from './reply.js';

export interface WebhooksRestOptions {
  readonly webhooks: WebhookService;
  readonly version: number;
  readonly bodyLimit: number;
  readonly publicUrl?: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';
/** Most webhooks or deliveries in one page (`Accept-Range: webhook 100`; the OpenAPI document says so too). */
export const WEBHOOKS_MAX_RANGE = 100;

/** Every answer here is JSON; `Accept` is checked in a hook before the handler changes anything. */
function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  if (status === 204) return reply.code(204).send();
  return reply.code(status).type(JSON_TYPE).send(JSON.stringify(body));
}

/** `?range=0-24` or `?limit=25&offset=0` (SPEC §4.3), at most 100. */
function pageOf(request: FastifyRequest): { offset: number; limit: number } {
  const q = request.query as Record<string, string | string[] | undefined>;
  const one = (name: string) => {
    const v = q[name];
    if (Array.isArray(v)) throw errors.invalidRequest(`Give ${name} once.`);
    return v;
  };
  const range = one('range');
  const limit = one('limit');
  const offset = one('offset');
  if (range !== undefined && (limit !== undefined || offset !== undefined)) throw errors.invalidRequest('Use range or limit/offset, not both.');
  let first = 0;
  let count = 25;
  if (range !== undefined) {
    const m = /^(\d{1,9})-(\d{1,9})$/.exec(range);
    if (!m || Number(m[2]) < Number(m[1])) throw errors.invalidRange(`Malformed range '${range.slice(0, 50)}': expected first-last, e.g. 0-24`, `webhook ${WEBHOOKS_MAX_RANGE}`);
    first = Number(m[1]);
    count = Number(m[2]) - first + 1;
  } else {
    if (limit !== undefined) {
      if (!/^\d{1,9}$/.test(limit) || Number(limit) < 1) throw errors.invalidRequest('limit must be a positive integer');
      count = Number(limit);
    }
    if (offset !== undefined) {
      if (!/^\d{1,9}$/.test(offset)) throw errors.invalidRequest('offset must be a non-negative integer');
      first = Number(offset);
    }
  }
  if (count > WEBHOOKS_MAX_RANGE) throw errors.invalidRange('Requested range not allowed', `webhook ${WEBHOOKS_MAX_RANGE}`);
  return { offset: first, limit: count };
}

function sendPage<T>(request: FastifyRequest, reply: FastifyReply, page: Paged<T>): FastifyReply {
  const returned = page.items.length;
  if (returned === 0 && page.offset > 0 && page.total > 0) {
    throw errors.rangeNotSatisfiable(`There are ${page.total}; the range starts at ${page.offset}`, { 'Content-Range': `*/${page.total}` });
  }
  reply.header('Content-Range', contentRange({ first: page.offset, last: page.offset + returned - 1, total: page.total }));
  reply.header('Accept-Range', `webhook ${WEBHOOKS_MAX_RANGE}`);
  const partial = returned < page.total;
  return sendJson(reply, partial ? 206 : 200, page.items);
}

export async function webhooksRestPlugin(app: FastifyInstance, options: WebhooksRestOptions): Promise<void> {
  const { webhooks } = options;
  const base = `/v${options.version}/webhooks`;
  const ctx = (request: FastifyRequest): CallContext => ({ principal: request.principal, baseUrl: baseUrlOf(request, options.publicUrl), requestId: request.id });
  const params = (request: FastifyRequest) => request.params as { id: string; did: string };

  // RFC 7396: PATCH takes a merge patch (plain JSON is accepted too).
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const carte = toHttpError(error, options.bodyLimit, request.headers['content-type']);
    if (carte.status >= 500) request.log.error({ err: carte.cause ?? error, requestId: request.id, url: pathOf(request) }, 'request failed');
    return sendError(request, reply, carte, baseUrlOf(request, options.publicUrl));
  });

  // A 406 must come before the change, not after it (a rotated secret nobody saw, a deleted endpoint).
  app.addHook('preHandler', async (request) => {
    if (request.method !== 'OPTIONS' && negotiate(request.headers.accept, ['application/json']) === null) throw errors.notAcceptable(['application/json']);
  });

  const allow = (url: string, methods: readonly string[]) => {
    const all = [...methods, 'OPTIONS'];
    const others = (['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const).filter((m) => !all.includes(m));
    app.route({ method: 'OPTIONS', url, handler: async (_request, reply) => reply.header('Allow', all.join(', ')).code(204).send() });
    if (others.length > 0) {
      app.route({
        method: others as HTTPMethods[],
        url,
        handler: async (request) => {
          throw errors.methodNotAllowed(request.method, all);
        },
      });
    }
  };

  app.post(base, async (request, reply) => {
    const { webhook, secret } = await webhooks.register(ctx(request), request.body);
    reply.header('Location', `${baseUrlOf(request, options.publicUrl)}${base}/${webhook.id}`);
    return sendJson(reply, 201, { ...webhook, secret });
  });
  app.get(base, async (request, reply) => {
    const { offset, limit } = pageOf(request);
    return sendPage(request, reply, await webhooks.list(ctx(request), offset, limit));
  });
  allow(base, ['GET', 'HEAD', 'POST']);

  app.get(`${base}/:id`, async (request, reply) => sendJson(reply, 200, await webhooks.get(ctx(request), params(request).id)));
  app.patch(`${base}/:id`, async (request, reply) => sendJson(reply, 200, await webhooks.update(ctx(request), params(request).id, request.body)));
  app.delete(`${base}/:id`, async (request, reply) => {
    await webhooks.remove(ctx(request), params(request).id);
    return sendJson(reply, 204, null);
  });
  allow(`${base}/:id`, ['GET', 'HEAD', 'PATCH', 'DELETE']);

  // Rotation: a new secret is a new sub-resource; the old one keeps signing for webhooks.secretOverlap.
  app.post(`${base}/:id/secrets`, async (request, reply) => sendJson(reply, 201, await webhooks.rotateSecret(ctx(request), params(request).id)));
  allow(`${base}/:id/secrets`, ['POST']);

  app.post(`${base}/:id/pings`, async (request, reply) => sendJson(reply, 201, await webhooks.ping(ctx(request), params(request).id)));
  allow(`${base}/:id/pings`, ['POST']);

  app.get(`${base}/:id/deliveries`, async (request, reply) => {
    const { offset, limit } = pageOf(request);
    return sendPage(request, reply, await webhooks.deliveries(ctx(request), params(request).id, offset, limit));
  });
  allow(`${base}/:id/deliveries`, ['GET', 'HEAD']);

  app.get(`${base}/:id/deliveries/:did`, async (request, reply) => sendJson(reply, 200, await webhooks.delivery(ctx(request), params(request).id, params(request).did)));
  allow(`${base}/:id/deliveries/:did`, ['GET', 'HEAD']);

  app.get(`${base}/:id/deliveries/:did/attempts`, async (request, reply) =>
    sendJson(reply, 200, await webhooks.attempts(ctx(request), params(request).id, params(request).did)),
  );
  // SPEC §7: a manual retry is a new attempt, made now; the answer is that attempt.
  app.post(`${base}/:id/deliveries/:did/attempts`, async (request, reply) =>
    sendJson(reply, 201, await webhooks.retry(ctx(request), params(request).id, params(request).did)),
  );
  allow(`${base}/:id/deliveries/:did/attempts`, ['GET', 'HEAD', 'POST']);
}
