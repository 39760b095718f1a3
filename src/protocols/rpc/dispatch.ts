/**
 * JSON-RPC 2.0 dispatch (SPEC §5), independent of the transport: a parsed payload in; the
 * response object, the batch's array of responses, or null when nothing is to be sent back
 * (notifications). `POST /v1/rpc` uses it, and so will `/v1/ws` for messages with `jsonrpc`.
 *
 * Single calls go through the `json-rpc-2.0` library (method table, notifications, error
 * responses). Batches and the request-shape checks are done here because the library answers a
 * batch whose calls yield one response with a bare object instead of an array (JSON-RPC 2.0 §6),
 * and throws on a batch member that is not an object (`[null]`).
 */
import { JSONRPCErrorException, JSONRPCServer, createJSONRPCErrorResponse, type JSONRPCRequest, type JSONRPCResponse } from 'json-rpc-2.0';
import { DEFAULT_LIMITS } from '../../config/config.js';
import { CarteError, toCarteError, type ErrorKindName } from '../../errors.js';
import type { ResourceService } from '../../service/resource-service.js';
import type { CallContext } from '../../service/types.js';
import { createAjv, toFieldErrors } from '../../service/validate.js';
import { buildMethods, namedParams, type RpcMethod } from './methods.js';
import { openRpcDocument } from './openrpc.js';

/** JSON-RPC 2.0 §5.1 codes. */
export const RPC_CODES = { parseError: -32700, invalidRequest: -32600, methodNotFound: -32601, invalidParams: -32602, internalError: -32603 } as const;

export interface DispatchOptions {
  /** Calls one batch may carry (default `limits.rpcBatchSize`). */
  readonly batchSize?: number;
  /** Hears of failures inside Carte (500s), for the log. */
  readonly log?: (error: unknown, method: string) => void;
}

interface CallParams {
  readonly ctx: CallContext;
  readonly log: DispatchOptions['log'];
}

interface RpcRuntime {
  readonly server: JSONRPCServer<CallParams>;
  readonly methods: readonly RpcMethod[];
}

const runtimes = new WeakMap<ResourceService, RpcRuntime>();

/** `data` of every error: the REST error it corresponds to (SPEC §5: `{error, error_description, status}`). */
export function errorData(error: CarteError, baseUrl: string): Record<string, unknown> {
  const data: Record<string, unknown> = {
    error: error.code,
    error_description: error.description,
    status: error.status,
    error_uri: `${baseUrl}/docs/errors#${error.code}`,
  };
  if (error.errors && error.errors.length > 0) data.errors = error.errors;
  if (error.extra) for (const [k, v] of Object.entries(error.extra)) if (!(k in data)) data[k] = v;
  return data;
}

/** An error response for a failure outside any method (parse errors, invalid requests, limits). */
export function rpcError(id: string | number | null, code: number, message: string, kind: ErrorKindName, description: string, baseUrl: string): JSONRPCResponse {
  return createJSONRPCErrorResponse(id, code, message, errorData(new CarteError(kind, description), baseUrl));
}

/** A CarteError as JSON-RPC: the error table's code, the description as message, the REST error as data. */
function toRpcException(error: unknown, method: string, call: CallParams): JSONRPCErrorException {
  const carte = toCarteError(error);
  if (carte.status >= 500) call.log?.(carte.cause ?? error, method);
  const message = carte.kind === 'server_error' ? 'Internal error' : carte.description;
  return new JSONRPCErrorException(message, carte.rpcCode, errorData(carte, call.ctx.baseUrl));
}

function runtimeFor(service: ResourceService): RpcRuntime {
  const cached = runtimes.get(service);
  if (cached) return cached;
  const methods = buildMethods(service);
  // Silent: failures are turned into responses (and 500s logged) by the wrappers below.
  const server = new JSONRPCServer<CallParams>({ errorListener: () => undefined });
  const ajv = createAjv();
  for (const method of methods) {
    const check = ajv.compile({
      type: 'object',
      properties: Object.fromEntries(method.params.map((p) => [p.name, p.check])),
      required: method.params.filter((p) => p.required).map((p) => p.name),
    });
    server.addMethod(method.name, async (params: unknown, call: CallParams) => {
      try {
        const named = namedParams(method, params);
        if (!method.openParams && !check(named)) {
          const problems = toFieldErrors(check.errors);
          throw new CarteError('invalid_request', `Invalid params for ${method.name}: ${problems[0]?.error_description ?? 'see errors'}.`, { errors: problems });
        }
        return await method.call(named, call.ctx);
      } catch (e) {
        throw toRpcException(e, method.name, call);
      }
    });
  }
  server.addMethod('rpc.discover', (_params: unknown, call: CallParams) => openRpcDocument(service, methods, call.ctx.baseUrl));
  server.handleMethodNotFound = async (request: JSONRPCRequest, params: unknown) => {
    if (request.id === undefined) return null;
    const { ctx } = params as CallParams;
    return rpcError(request.id, RPC_CODES.methodNotFound, 'Method not found', 'not_found', `There is no method '${String(request.method).slice(0, 100)}'; rpc.discover lists them.`, ctx.baseUrl);
  };
  const runtime = { server, methods };
  runtimes.set(service, runtime);
  return runtime;
}

function isId(value: unknown): value is string | number | null {
  return value === null || typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

/** JSON-RPC 2.0 §4: what makes a Request object; anything else is -32600. */
function requestProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'A request must be a JSON object.';
  const r = value as Record<string, unknown>;
  if (r.jsonrpc !== '2.0') return 'The member "jsonrpc" must be exactly "2.0".';
  if (typeof r.method !== 'string') return 'The member "method" must be a string.';
  if (r.params !== undefined && (typeof r.params !== 'object' || r.params === null)) return 'The member "params" must be an object or an array when present.';
  if ('id' in r && !isId(r.id)) return 'The member "id" must be a string, a number or null when present.';
  return null;
}

async function dispatchOne(runtime: RpcRuntime, payload: unknown, call: CallParams): Promise<JSONRPCResponse | null> {
  const problem = requestProblem(payload);
  if (problem) {
    const id = typeof payload === 'object' && payload !== null && isId((payload as { id?: unknown }).id) ? (payload as { id: string | number | null }).id : null;
    return rpcError(id, RPC_CODES.invalidRequest, 'Invalid Request', 'invalid_request', problem, call.ctx.baseUrl);
  }
  const request = payload as JSONRPCRequest;
  if (!('id' in request)) {
    // A notification: run it, answer nothing (JSON-RPC 2.0 §4.1), not even an error.
    await runtime.server.receive(request, call);
    return null;
  }
  return runtime.server.receive(request, call);
}

/**
 * Dispatches one parsed JSON-RPC payload: a request, a notification or a batch. Batch calls
 * run in order (a create then an update of the same item behave as sent).
 */
export async function dispatchRpc(service: ResourceService, payload: unknown, ctx: CallContext, options: DispatchOptions = {}): Promise<unknown | null> {
  const runtime = runtimeFor(service);
  const call: CallParams = { ctx, log: options.log };
  if (!Array.isArray(payload)) return dispatchOne(runtime, payload, call);
  const batchSize = options.batchSize ?? DEFAULT_LIMITS.rpcBatchSize;
  if (payload.length === 0) return rpcError(null, RPC_CODES.invalidRequest, 'Invalid Request', 'invalid_request', 'An empty batch: send at least one request.', ctx.baseUrl);
  if (payload.length > batchSize) {
    return rpcError(null, RPC_CODES.invalidRequest, 'Invalid Request', 'invalid_request', `A batch may carry at most ${batchSize} calls; this one has ${payload.length}.`, ctx.baseUrl);
  }
  const responses: JSONRPCResponse[] = [];
  for (const item of payload) {
    const response = await dispatchOne(runtime, item, call);
    if (response) responses.push(response);
  }
  return responses.length > 0 ? responses : null;
}

/** Dispatches a JSON-RPC text (a WebSocket message): -32700 when it is not JSON. */
export async function dispatchRpcText(service: ResourceService, text: string, ctx: CallContext, options: DispatchOptions = {}): Promise<unknown | null> {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (e) {
    return rpcError(null, RPC_CODES.parseError, 'Parse error', 'invalid_body', `The message is not valid JSON: ${(e as Error).message}`, ctx.baseUrl);
  }
  return dispatchRpc(service, payload, ctx, options);
}

/** The methods served (for discovery pages and tests). */
export function rpcMethods(service: ResourceService): readonly RpcMethod[] {
  return runtimeFor(service).methods;
}
