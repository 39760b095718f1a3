/**
 * JSON-RPC 2.0 over HTTP at `POST /v1/rpc` (SPEC §5). Every answer that carries JSON-RPC
 * responses is 200 (a batch may mix results and errors); a request or batch made only of
 * notifications is 204 with no body. Transport failures keep their HTTP status (413 body
 * too large, 415 not JSON) and still carry a JSON-RPC error object a client can read.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ANONYMOUS } from '../../auth/principal.js';
import type { Limits } from '../../config/config.js';
import { errors } from '../../errors.js';
import type { ResourceService } from '../../service/resource-service.js';
import type { CallContext } from '../../service/types.js';
import { baseUrlOf, JSON_TYPE, sendError } from '../rest/reply.js';
import { dispatchRpc, RPC_CODES, rpcError } from './dispatch.js';

export interface RpcPluginOptions {
  readonly service: ResourceService;
  readonly limits: Pick<Limits, 'rpcBatchSize' | 'rpcBodyBytes'>;
  readonly publicUrl?: string;
}

/** Media types a JSON-RPC body may be sent as (`application/json-rpc` is the draft JSON-RPC over HTTP's). */
const RPC_TYPES = ['application/json', 'application/json-rpc', 'application/jsonrequest'];

/** A body that is not JSON: answered with -32700, not a transport error. */
class Unparsable {
  constructor(readonly reason: string) {}
}

/** Why a body is not acceptable JSON, in words a client can act on. */
function parseProblem(text: string, error: Error): string {
  if (text.trim() === '') return 'The body is empty; send a JSON-RPC request.';
  try {
    JSON.parse(text);
  } catch (e) {
    return `The body is not valid JSON: ${(e as Error).message}`;
  }
  // Valid JSON that Fastify's parser still refused: a prototype-poisoning key.
  return `The body is refused: ${error.message}`;
}

export async function rpcPlugin(app: FastifyInstance, options: RpcPluginOptions): Promise<void> {
  const { service, limits } = options;
  const url = `${service.prefix}/rpc`;
  const ctxOf = (request: FastifyRequest): CallContext => ({ principal: request.principal ?? ANONYMOUS, baseUrl: baseUrlOf(request, options.publicUrl), requestId: request.id });

  // This plugin's own parsers: a body that is not JSON becomes a -32700 response. Fastify's JSON
  // parser refuses __proto__ and constructor.prototype keys (prototype poisoning).
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(RPC_TYPES, { parseAs: 'string', bodyLimit: limits.rpcBodyBytes }, (request, body, done) => {
    json(request, body as string, (error: Error | null, value?: unknown) => done(null, error ? new Unparsable(parseProblem(body as string, error)) : value));
  });

  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const base = baseUrlOf(request, options.publicUrl);
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || error.statusCode === 413) {
      const e = errors.payloadTooLarge(limits.rpcBodyBytes);
      return reply.code(413).type(JSON_TYPE).send(JSON.stringify(rpcError(null, e.rpcCode, 'Payload too large', 'payload_too_large', e.description, base)));
    }
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || error.statusCode === 415) {
      const given = (request.headers['content-type'] ?? 'none').split(';')[0]?.trim() || 'none';
      const e = errors.unsupportedMediaType(given, RPC_TYPES);
      return reply.code(415).type(JSON_TYPE).send(JSON.stringify(rpcError(null, e.rpcCode, 'Unsupported media type', 'unsupported_media_type', e.description, base)));
    }
    request.log.error({ err: error, requestId: request.id }, 'JSON-RPC request failed');
    return reply.code(500).type(JSON_TYPE).send(JSON.stringify(rpcError(null, RPC_CODES.internalError, 'Internal error', 'server_error', 'Oops! Something went wrong...', base)));
  });

  app.post(url, async (request, reply) => {
    const ctx = ctxOf(request);
    const body = request.body;
    if (body instanceof Unparsable || body === undefined) {
      const reason = body instanceof Unparsable ? body.reason : 'The body is empty; send a JSON-RPC request.';
      return reply.code(200).type(JSON_TYPE).send(JSON.stringify(rpcError(null, RPC_CODES.parseError, 'Parse error', 'invalid_body', reason, ctx.baseUrl)));
    }
    const response = await dispatchRpc(service, body, ctx, {
      batchSize: limits.rpcBatchSize,
      log: (err, method) => request.log.error({ err, requestId: request.id, method }, 'JSON-RPC method failed'),
    });
    if (response === null) return reply.code(204).send();
    return reply.code(200).type(JSON_TYPE).send(JSON.stringify(response));
  });

  app.route({
    method: 'OPTIONS',
    url,
    handler: async (_request, reply) => reply.header('Allow', 'POST, OPTIONS').code(204).send(),
  });
  app.route({
    method: ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE'],
    url,
    handler: async (request, reply) =>
      sendError(request, reply, errors.methodNotAllowed(request.method, ['POST', 'OPTIONS'], `JSON-RPC calls are POSTed to ${url}; rpc.discover describes every method.`), baseUrlOf(request, options.publicUrl)),
  });
}
