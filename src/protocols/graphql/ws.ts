/**
 * GraphQL over WebSocket at `/v1/graphql` (SPEC §6): the `graphql-transport-ws` protocol of
 * the graphql-ws library, on the one `ws` server @fastify/websocket runs. Operations go
 * through the same checks as over HTTP (parse, validate, alias/depth/cost limits); the
 * principal is the upgrade request's, or the bearer token in `connectionParams.authorization`
 * checked by the one authenticator; heartbeats, shutdown (1001) and the slow-consumer bound
 * (1008) are the events room's, as for `/v1/ws`.
 */
import type { FastifyRequest } from 'fastify';
import { CloseCode, makeServer, type Context, type FormattedExecutionResult } from 'graphql-ws';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import type { WebSocket } from 'ws';
import type { Auth } from '../../auth/auth.js';
import type { Principal } from '../../auth/principal.js';
import { toCarteError } from '../../errors.js';
import type { EventHub } from '../../events/hub.js';
import { baseUrlOf } from '../rest/reply.js';
import { CLOSE, principalOf } from '../ws/plugin.js';
import { formatError, prepareOperation, type GraphqlRuntime } from './execute.js';
import type { SubscriptionContext } from './subscriptions.js';

export interface GraphqlWsOptions {
  readonly hub: EventHub;
  readonly auth: Auth;
  readonly publicUrl?: string | undefined;
}

/** What graphql-ws keeps for one connection. */
interface Extra {
  readonly socket: WebSocket;
  readonly request: FastifyRequest;
  readonly baseUrl: string;
  principal: Principal;
  /** Operations started on the socket (their request ids). */
  operations: number;
  slowConsumer(): void;
}

type ConnectionParams = Record<string, unknown> | undefined;

/** WebSocket close reasons are at most 123 bytes (RFC 6455 §5.5). */
function closeReason(text: string): string {
  let out = text;
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -2);
  return out;
}

/** The handler of upgrades at `/v1/graphql`: one graphql-ws server for every socket. */
export function graphqlWsHandler(runtime: GraphqlRuntime, options: GraphqlWsOptions): (socket: WebSocket, request: FastifyRequest) => void {
  const { hub, auth } = options;

  const server = makeServer<ConnectionParams, Extra>({
    schema: runtime.schema,
    // The client must say who it is, or that it is nobody, within 10 s (graphql-ws default 3 s is short on a loaded host).
    connectionInitWaitTimeout: 10_000,
    async onConnect(ctx: Context<ConnectionParams, Extra>) {
      const authorization = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
      if (authorization === undefined || authorization === null) return true;
      const { socket, request } = ctx.extra;
      if (typeof authorization !== 'string') {
        socket.close(CloseCode.Forbidden, 'connectionParams.authorization must be a string: "Bearer <token>"');
        return false;
      }
      try {
        // The same authentication as every HTTP request (SPEC §8): a JWT access token or an API key.
        ctx.extra.principal = await auth.authenticator.authenticate({ authorization, queryAllowed: false });
      } catch (e) {
        const error = toCarteError(e);
        if (error.code === 'invalid_token') auth.limits.recordFailure(request.ip);
        if (error.status >= 500) request.log.error({ err: e }, 'GraphQL over WebSocket: authentication failed');
        socket.close(CloseCode.Forbidden, closeReason(`${error.code}: ${error.description}`));
        return false;
      }
      return true;
    },
    onSubscribe(ctx: Context<ConnectionParams, Extra>, id, payload) {
      const { extra } = ctx;
      const limit = hub.config.maxSubscriptions;
      if (Object.keys(ctx.subscriptions).length > limit) {
        return [new GraphQLError(`At most ${limit} operations may run at once on one socket.`, { extensions: { code: 'invalid_request', status: 400 } })];
      }
      const prepared = prepareOperation(runtime, payload, extra.baseUrl, { method: 'POST', subscriptions: true });
      if (!('document' in prepared)) {
        // A request error (syntax, validation, limits): the `error` message, with the same extensions as over HTTP.
        return (prepared.body.errors ?? []).map((e) => new GraphQLError(e.message, { extensions: e.extensions ?? {} }));
      }
      const contextValue: SubscriptionContext = {
        call: { principal: extra.principal, baseUrl: extra.baseUrl, requestId: `${extra.request.id}:${++extra.operations}:${id.slice(0, 50)}` },
        connection: { bufferBytes: hub.config.bufferBytes, slowConsumer: () => extra.slowConsumer() },
      };
      const args: ExecutionArgs = {
        schema: runtime.schema,
        document: prepared.document,
        variableValues: prepared.variables,
        contextValue,
        ...(prepared.operationName ? { operationName: prepared.operationName } : {}),
      };
      return args;
    },
    onNext(ctx: Context<ConnectionParams, Extra>, _id, _payload, _args, result): FormattedExecutionResult | void {
      if (!result.errors) return undefined;
      const { request, baseUrl } = ctx.extra;
      const log = (err: unknown) => request.log.error({ err, requestId: request.id }, 'GraphQL resolver failed');
      return { ...result, errors: result.errors.map((e) => formatError(e, baseUrl, log)) } as FormattedExecutionResult;
    },
  });

  return (socket, request) => {
    if (hub.isClosing) {
      socket.close(CLOSE.goingAway, 'server shutting down');
      return;
    }
    let closing = false;
    let alive = true;
    const bound = hub.config.bufferBytes;
    const slowConsumer = () => {
      if (closing) return;
      closing = true;
      hub.countSlowConsumer();
      request.log.warn({ buffered: socket.bufferedAmount }, 'graphql-ws closed: slow consumer');
      socket.close(CLOSE.policyViolation, 'slow consumer: too many messages waiting');
      // The close frame waits behind the buffered data; a client that never reads is cut off.
      setTimeout(() => socket.terminate(), 10_000).unref();
    };
    const extra: Extra = { socket, request, baseUrl: baseUrlOf(request, options.publicUrl), principal: principalOf(request), operations: 0, slowConsumer };

    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve) => {
            if (closing || socket.readyState !== socket.OPEN) return resolve();
            // Resolved once written: graphql-ws sends the next message of an operation after that.
            socket.send(data, () => resolve());
            if (socket.bufferedAmount > bound) slowConsumer();
          }),
        close: (code, reason) => {
          closing = true;
          socket.close(code, reason);
        },
        onMessage: (cb) =>
          socket.on('message', (data, isBinary) => {
            alive = true;
            if (isBinary) {
              socket.close(CloseCode.BadRequest, 'Send JSON text messages');
              return;
            }
            const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8');
            cb(text).catch((err: unknown) => {
              request.log.error({ err }, 'GraphQL over WebSocket: message handling failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            });
          }),
      },
      extra,
    );

    // RFC 6455 §5.5.2: a ping each heartbeat; a socket that did not answer the last one is dropped.
    socket.on('pong', () => {
      alive = true;
    });
    const stopBeat = hub.onHeartbeat(() => {
      if (!alive) {
        socket.terminate();
        return;
      }
      alive = false;
      socket.ping();
    });
    // SPEC §11: shutdown closes the socket with 1001.
    const untrack = hub.track('websocket', () =>
      new Promise<void>((resolve) => {
        if (socket.readyState === socket.CLOSED) return resolve();
        socket.once('close', () => resolve());
        closing = true;
        socket.close(CLOSE.goingAway, 'server shutting down');
      }),
    );
    socket.once('close', (code, reason) => {
      closing = true;
      stopBeat();
      untrack();
      void closed(code, reason.toString('utf8'));
    });
  };
}
