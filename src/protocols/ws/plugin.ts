/**
 * WebSockets at `/v1/ws` (SPEC §7): subscriptions to change events with the REST filter
 * model and `after` resume, JSON-RPC 2.0 over the same socket, heartbeats, per-connection
 * limits, and a consumer too slow to read closed with 1008 at its buffer bound — so a
 * socket never holds more than `events.bufferBytes` of server memory.
 */
import type { WebSocket } from 'ws';
import type {} from '@fastify/websocket'; // route options `wsHandler`, `websocket`
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ANONYMOUS, type Principal } from '../../auth/principal.js';
import { errors, toCarteError, type CarteError } from '../../errors.js';
import type { EventHub } from '../../events/hub.js';
import type { CarteEvent, Unsubscribe } from '../../events/types.js';
import type { CallContext } from '../../service/types.js';
import { toHttpError } from '../rest/plugin.js';
import { baseUrlOf, errorBody, pathOf, sendError } from '../rest/reply.js';
import { errorMessage, eventMessages, methodNotFound, parseClientMessage, subscribedMessage, unsubscribedMessage, type ClientMessage } from './messages.js';

/** Dispatches one JSON-RPC payload (object or batch); null for notifications (SPEC §5). */
export type RpcDispatch = (payload: unknown, ctx: CallContext) => Promise<unknown | null>;

export interface WsPluginOptions {
  readonly hub: EventHub;
  readonly bodyLimit: number;
  readonly publicUrl?: string;
  /** The JSON-RPC dispatcher (`dispatchRpc` of the RPC front end); without it, RPC calls answer -32601. */
  readonly rpc?: RpcDispatch;
}

/** Close codes (RFC 6455 §7.4.1). */
export const CLOSE = { goingAway: 1001, policyViolation: 1008, tooBig: 1009 } as const;

/** JSON-RPC calls and subscribes one socket may have running at once before it stops reading. */
const MAX_IN_FLIGHT = 32;

/**
 * Who is on the other end: read from the upgrade request, like any HTTP request (the
 * authentication hook sets `request.principal` from a bearer token, or the
 * `access_token` query parameter browsers must use). The one place WebSockets learn it.
 */
export function principalOf(request: FastifyRequest): Principal {
  return request.principal ?? ANONYMOUS;
}

export async function wsPlugin(app: FastifyInstance, options: WsPluginOptions): Promise<void> {
  const { hub } = options;
  const url = `/v${hub.api.version}/ws`;

  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const carte = toHttpError(error, options.bodyLimit, request.headers['content-type']);
    if (carte.status >= 500) request.log.error({ err: carte.cause ?? error, requestId: request.id, url: pathOf(request) }, 'request failed');
    return sendError(request, reply, carte, baseUrlOf(request, options.publicUrl));
  });

  app.route({
    method: 'GET',
    url,
    // A plain GET (no Upgrade header) learns how to connect.
    handler: async () => {
      throw errors.upgradeRequired(url);
    },
    wsHandler: (socket: WebSocket, request: FastifyRequest) => {
      new Connection(socket, request, options).open();
    },
  });
}

/** One client socket: its subscriptions, its heartbeat, its limits. */
class Connection {
  private readonly hub: EventHub;
  private readonly subscriptions = new Map<string, Unsubscribe | 'pending'>();
  private readonly ctx: CallContext;
  private alive = true;
  private closed = false;
  private inFlight = 0;
  private calls = 0;
  private stopBeat: (() => void) | null = null;
  private untrack: (() => void) | null = null;
  private stopWatch: (() => void) | null = null;

  constructor(
    private readonly socket: WebSocket,
    private readonly request: FastifyRequest,
    private readonly options: WsPluginOptions,
  ) {
    this.hub = options.hub;
    this.ctx = { principal: principalOf(request), baseUrl: baseUrlOf(request, options.publicUrl), requestId: request.id };
  }

  open(): void {
    const { socket, hub } = this;
    if (hub.isClosing) {
      socket.close(CLOSE.goingAway, 'server shutting down');
      return;
    }
    this.untrack = hub.track('websocket', () => this.shutdown());
    this.stopBeat = hub.onHeartbeat(() => this.beat());
    // SPEC §8: the socket ends when its token or key expires or is revoked.
    this.stopWatch = hub.watchCredential(this.ctx.principal, (error) => this.endCredential(error));
    socket.on('pong', () => {
      this.alive = true;
    });
    socket.on('message', (data, isBinary) => {
      this.alive = true;
      if (isBinary) return this.fail(errors.invalidBody('Send JSON text messages.'));
      this.receive(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
    });
    socket.on('close', () => this.cleanUp());
  }

  /** RFC 6455 §5.5.2: a ping each heartbeat; a socket that did not answer the last one is dropped. */
  private beat(): void {
    if (!this.alive) {
      this.request.log.debug('websocket dropped: no pong');
      this.socket.terminate();
      return;
    }
    this.alive = false;
    this.socket.ping();
  }

  private receive(text: string): void {
    let message: ClientMessage;
    try {
      message = parseClientMessage(text);
    } catch (e) {
      return this.fail(toCarteError(e));
    }
    switch (message.type) {
      case 'ping':
        return void this.send(JSON.stringify({ type: 'pong' }));
      case 'unsubscribe':
        return this.unsubscribe(message.id);
      case 'subscribe':
        return void this.track(this.subscribe(message));
      case 'rpc':
        return void this.track(this.rpc(message.payload));
    }
  }

  /** Counts work in flight; past the bound the socket stops reading (TCP back-pressure) until some ends. */
  private async track(work: Promise<void>): Promise<void> {
    this.inFlight++;
    if (this.inFlight >= MAX_IN_FLIGHT) this.socket.pause();
    try {
      await work;
    } finally {
      this.inFlight--;
      if (this.inFlight < MAX_IN_FLIGHT && this.socket.isPaused && !this.closed) this.socket.resume();
    }
  }

  private async subscribe(message: Extract<ClientMessage, { type: 'subscribe' }>): Promise<void> {
    const { id } = message;
    const ended = await this.hub.credentialError(this.ctx.principal);
    if (ended) return this.endCredential(ended);
    if (this.subscriptions.has(id)) return this.fail(errors.invalidRequest(`A subscription '${id}' is already open on this socket; unsubscribe first or choose another id.`), id);
    if (this.subscriptions.size >= this.hub.config.maxSubscriptions) {
      return this.fail(errors.invalidRequest(`At most ${this.hub.config.maxSubscriptions} subscriptions may be open on one socket.`), id);
    }
    this.subscriptions.set(id, 'pending');
    const toMessage = eventMessages(id);
    let unsubscribe: Unsubscribe;
    try {
      unsubscribe = await this.hub.subscribe(
        {
          ...(message.resource !== undefined ? { resource: message.resource } : {}),
          ...(message.types !== undefined ? { types: message.types } : {}),
          ...(message.filter !== undefined ? { filter: message.filter } : {}),
          ...(message.after !== undefined ? { after: message.after } : {}),
          principal: this.ctx.principal,
          baseUrl: this.ctx.baseUrl,
        },
        (event: CarteEvent) => this.send(toMessage(event)),
      );
    } catch (e) {
      if (this.subscriptions.get(id) === 'pending') this.subscriptions.delete(id);
      return this.fail(toCarteError(e), id);
    }
    if (this.closed || this.subscriptions.get(id) !== 'pending') {
      // Unsubscribed (or gone) while the subscription was being set up.
      unsubscribe();
      return;
    }
    this.subscriptions.set(id, unsubscribe);
    this.send(subscribedMessage(id));
  }

  private unsubscribe(id: string): void {
    const entry = this.subscriptions.get(id);
    if (entry === undefined) return this.fail(errors.invalidRequest(`There is no subscription '${id}' on this socket.`), id);
    if (entry !== 'pending') entry();
    this.subscriptions.delete(id);
    this.send(unsubscribedMessage(id));
  }

  private async rpc(payload: unknown): Promise<void> {
    const dispatch = this.options.rpc;
    const ended = await this.hub.credentialError(this.ctx.principal);
    if (ended) return this.endCredential(ended);
    let answer: unknown | null;
    if (!dispatch) answer = methodNotFound(payload);
    else {
      try {
        answer = await dispatch(payload, { ...this.ctx, requestId: `${this.request.id}:${++this.calls}` });
      } catch (e) {
        this.request.log.error({ err: e }, 'JSON-RPC over WebSocket failed');
        const id = typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? ((payload as { id?: unknown }).id ?? null) : null;
        answer = { jsonrpc: '2.0', error: { code: -32603, message: 'Internal error' }, id };
      }
    }
    if (answer !== null && answer !== undefined) this.send(JSON.stringify(answer));
  }

  /**
   * Sends one message. Past half the buffer bound the returned promise waits until it is
   * written out (a replay goes at the client's pace); past the bound the client is too
   * slow to read and is closed with 1008.
   */
  private send(text: string): void | Promise<void> {
    const { socket } = this;
    if (this.closed || socket.readyState !== socket.OPEN) return;
    const bound = this.hub.config.bufferBytes;
    if (socket.bufferedAmount > bound / 2) {
      return new Promise<void>((resolve) => {
        socket.send(text, () => resolve());
        this.checkBuffer(bound);
      });
    }
    socket.send(text);
    this.checkBuffer(bound);
  }

  private checkBuffer(bound: number): void {
    if (this.socket.bufferedAmount <= bound || this.closed) return;
    this.hub.countSlowConsumer();
    this.request.log.warn({ buffered: this.socket.bufferedAmount }, 'websocket closed: slow consumer');
    this.cleanUp();
    this.socket.close(CLOSE.policyViolation, 'slow consumer: too many messages waiting');
    // The close frame waits behind the buffered data; a client that never reads is cut off.
    setTimeout(() => this.socket.terminate(), 10_000).unref();
  }

  private fail(error: CarteError, id?: string): void {
    this.send(errorMessage(error, errorBody(error, this.ctx.baseUrl), id));
  }

  /** The credential stopped working: say why, then close with 1008 (policy violation). */
  private endCredential(error: CarteError): void {
    if (this.closed) return;
    this.fail(error);
    this.cleanUp();
    this.socket.close(CLOSE.policyViolation, error.description.slice(0, 120));
  }

  /** Shutdown (SPEC §11): close with 1001, resolved once the socket is closed. */
  private shutdown(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.socket.readyState === this.socket.CLOSED) return resolve();
      this.socket.once('close', () => resolve());
      this.cleanUp();
      this.socket.close(CLOSE.goingAway, 'server shutting down');
    });
  }

  /** Stops every subscription and forgets the socket (idempotent). */
  private cleanUp(): void {
    if (this.closed) return;
    this.closed = true;
    for (const entry of this.subscriptions.values()) if (entry !== 'pending') entry();
    this.subscriptions.clear();
    this.stopBeat?.();
    this.stopWatch?.();
    this.untrack?.();
  }
}
