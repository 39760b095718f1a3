/**
 * The one error table: every error Carte can answer is declared here once, with its
 * code, HTTP status and JSON-RPC code. Code throws `errors.notFound(...)`; protocol
 * adapters map a `CarteError` by this table and never invent errors of their own.
 * Every code is documented in `docs/errors.md` (a test holds the two together).
 */

/** One problem found while validating a body or a schema; all are reported at once. */
export interface FieldError {
  /** Dotted path of the field (`address.city`, `[2].name` in a bulk body). */
  readonly field: string;
  /** Short machine-readable reason: `required`, `format`, `type`, `enum`, … */
  readonly error: string;
  readonly error_description: string;
}

interface ErrorKind {
  readonly status: number;
  /** JSON-RPC 2.0 error code (SPEC §5: service errors are -32000 and below). */
  readonly rpc: number;
  readonly title: string;
}

/** Codes whose name is fixed. `invalid_<singular>` codes share the `invalid_resource` row. */
export const ERROR_KINDS = {
  invalid_request: { status: 400, rpc: -32602, title: 'Invalid request' },
  invalid_body: { status: 400, rpc: -32602, title: 'Malformed body' },
  invalid_range: { status: 400, rpc: -32602, title: 'Requested range not allowed' },
  invalid_resource: { status: 400, rpc: -32602, title: 'Invalid item' },
  query_too_complex: { status: 400, rpc: -32602, title: 'Query too complex' },
  invalid_token: { status: 401, rpc: -32001, title: 'Invalid token' },
  invalid_client: { status: 401, rpc: -32001, title: 'Client authentication failed' },
  invalid_grant: { status: 400, rpc: -32602, title: 'Invalid grant' },
  unsupported_grant_type: { status: 400, rpc: -32602, title: 'Unsupported grant type' },
  invalid_scope: { status: 400, rpc: -32602, title: 'Invalid scope' },
  no_credentials: { status: 401, rpc: -32001, title: 'Authentication required' },
  insufficient_scope: { status: 403, rpc: -32003, title: 'Insufficient scope' },
  not_allowed: { status: 403, rpc: -32003, title: 'Not allowed' },
  not_found: { status: 404, rpc: -32004, title: 'Not found' },
  unknown_version: { status: 404, rpc: -32004, title: 'Unknown API version' },
  method_not_allowed: { status: 405, rpc: -32601, title: 'Method not allowed' },
  not_acceptable: { status: 406, rpc: -32006, title: 'Not acceptable' },
  conflict: { status: 409, rpc: -32009, title: 'Conflict' },
  cursor_expired: { status: 410, rpc: -32010, title: 'Cursor expired' },
  invalid_transition: { status: 409, rpc: -32009, title: 'Invalid state transition' },
  precondition_failed: { status: 412, rpc: -32012, title: 'Precondition failed' },
  payload_too_large: { status: 413, rpc: -32013, title: 'Payload too large' },
  unsupported_media_type: { status: 415, rpc: -32015, title: 'Unsupported media type' },
  range_not_satisfiable: { status: 416, rpc: -32016, title: 'Range not satisfiable' },
  idempotency_key_reused: { status: 422, rpc: -32022, title: 'Idempotency key reused' },
  upgrade_required: { status: 426, rpc: -32026, title: 'Upgrade required' },
  precondition_required: { status: 428, rpc: -32028, title: 'Precondition required' },
  too_many_requests: { status: 429, rpc: -32029, title: 'Too many requests' },
  server_error: { status: 500, rpc: -32603, title: 'Internal server error' },
  not_implemented: { status: 501, rpc: -32601, title: 'Not implemented' },
  service_unavailable: { status: 503, rpc: -32050, title: 'Service unavailable' },
} as const satisfies Record<string, ErrorKind>;

export type ErrorKindName = keyof typeof ERROR_KINDS;

export interface CarteErrorOptions {
  readonly errors?: readonly FieldError[];
  /** Response headers the error requires (`Allow`, `Accept-Range`, `Retry-After`, …). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Extra members of the error body (`allowed`, `available`, …). */
  readonly extra?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
}

/** The one error type the service throws and every protocol maps. */
export class CarteError extends Error {
  readonly code: string;
  readonly kind: ErrorKindName;
  readonly status: number;
  readonly rpcCode: number;
  readonly errors?: readonly FieldError[];
  readonly headers?: Readonly<Record<string, string>>;
  readonly extra?: Readonly<Record<string, unknown>>;

  constructor(kind: ErrorKindName, description: string, options: CarteErrorOptions & { code?: string } = {}) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CarteError';
    this.kind = kind;
    this.code = options.code ?? kind;
    this.status = ERROR_KINDS[kind].status;
    this.rpcCode = ERROR_KINDS[kind].rpc;
    if (options.errors) this.errors = options.errors;
    if (options.headers) this.headers = options.headers;
    if (options.extra) this.extra = options.extra;
  }

  get description(): string {
    return this.message;
  }
}

export function isCarteError(value: unknown): value is CarteError {
  return value instanceof CarteError;
}

/** Factories: the only way code creates errors, so messages stay consistent. */
export const errors = {
  invalidRequest: (description: string, options?: CarteErrorOptions) =>
    new CarteError('invalid_request', description, options),
  noProperty: (property: string, collection: string) =>
    new CarteError('invalid_request', `There is no '${property}' property on ${collection}.`),
  invalidBody: (description: string) => new CarteError('invalid_body', description),
  /** Seed 004: `400 invalid_user` — a body that breaks the resource's rules. */
  invalidItem: (singular: string, fieldErrors: readonly FieldError[], description?: string) =>
    new CarteError('invalid_resource', description ?? summarize(singular, fieldErrors), {
      code: `invalid_${singular.replace(/-/g, '_')}`,
      errors: fieldErrors,
    }),
  invalidRange: (description: string, acceptRange?: string) =>
    new CarteError('invalid_range', description, acceptRange ? { headers: { 'Accept-Range': acceptRange } } : {}),
  notFound: (singular: string, id: unknown) =>
    new CarteError('not_found', `The ${singular} with the id '${String(id)}' doesn't exist`),
  noRoute: (method: string, path: string) =>
    new CarteError('not_found', `There is nothing at ${method} ${path}`),
  unknownVersion: (version: string, supported: readonly number[]) =>
    new CarteError('unknown_version', `API version '${version}' is not supported; supported: ${supported.map((v) => `v${v}`).join(', ')}`, {
      extra: { supported: supported.map((v) => `v${v}`) },
    }),
  methodNotAllowed: (method: string, allow: readonly string[], description?: string) =>
    new CarteError('method_not_allowed', description ?? `${method} is not allowed here; allowed: ${allow.join(', ')}`, {
      headers: { Allow: allow.join(', ') },
    }),
  notAcceptable: (available: readonly string[]) =>
    new CarteError('not_acceptable', `None of the acceptable media types can be produced; available: ${available.join(', ')}`, {
      extra: { available },
    }),
  conflict: (description: string, extra?: Record<string, unknown>) =>
    new CarteError('conflict', description, extra ? { extra } : {}),
  invalidTransition: (field: string, from: string, to: string, allowed: readonly string[]) =>
    new CarteError(
      'invalid_transition',
      `Cannot move ${field} from '${from}' to '${to}'; allowed next states: ${allowed.length ? allowed.map((s) => `'${s}'`).join(', ') : 'none'}`,
      { extra: { allowed } },
    ),
  preconditionFailed: (description = 'The resource has changed since the ETag given in If-Match') =>
    new CarteError('precondition_failed', description),
  preconditionRequired: (singular: string) =>
    new CarteError('precondition_required', `Changing a ${singular} requires an If-Match header with its current ETag`),
  payloadTooLarge: (limit: number) =>
    new CarteError('payload_too_large', `The body is larger than the limit of ${limit} bytes`),
  unsupportedMediaType: (given: string, supported: readonly string[]) =>
    new CarteError('unsupported_media_type', `Content-Type '${given}' is not supported here; use one of: ${supported.join(', ')}`, {
      extra: { supported },
    }),
  rangeNotSatisfiable: (description: string, headers?: Record<string, string>) =>
    new CarteError('range_not_satisfiable', description, headers ? { headers } : {}),
  idempotencyKeyReused: () =>
    new CarteError('idempotency_key_reused', 'This Idempotency-Key was already used with a different request'),
  /** GraphQL depth, cost, alias and batch limits (SPEC §6). */
  queryTooComplex: (description: string, extra?: Record<string, unknown>) =>
    new CarteError('query_too_complex', description, extra ? { extra } : {}),
  /** SPEC §7: events after the cursor were purged (retention), so resuming from it would skip some. */
  cursorExpired: (retention: string) =>
    new CarteError(
      'cursor_expired',
      `Events after this cursor are older than the retention window (${retention}) and were purged; resynchronize (read the items again), then follow the feed from its next-cursor`,
    ),
  upgradeRequired: (path: string) =>
    new CarteError('upgrade_required', `${path} speaks WebSocket: connect with a WebSocket client (ws://… or wss://…)`, {
      headers: { Upgrade: 'websocket', Connection: 'Upgrade' },
    }),
  notImplemented: (description: string) => new CarteError('not_implemented', description),
  /** RFC 6750 §3.1: a bearer token that is malformed, expired, revoked or signed by an unknown key. */
  invalidToken: (description: string) =>
    new CarteError('invalid_token', description, {
      headers: { 'WWW-Authenticate': `Bearer realm="carte", error="invalid_token", error_description="${description.replace(/["\\]/g, '')}"` },
    }),
  /** RFC 6749 §5.2: 401 with a Basic challenge, whichever way the client tried to authenticate. */
  invalidClient: (description = 'Client authentication failed: unknown client, wrong secret, or a revoked client') =>
    new CarteError('invalid_client', description, { headers: { 'WWW-Authenticate': 'Basic realm="carte", charset="UTF-8"' } }),
  invalidGrant: (description: string) => new CarteError('invalid_grant', description),
  unsupportedGrantType: (given: string) =>
    new CarteError('unsupported_grant_type', `The grant type '${given}' is not supported; use client_credentials or refresh_token`),
  invalidScope: (description: string) => new CarteError('invalid_scope', description),
  tooManyRequests: (description: string, headers: Record<string, string>) => new CarteError('too_many_requests', description, { headers }),
  serverError: (cause?: unknown) =>
    new CarteError('server_error', 'Oops! Something went wrong...', cause === undefined ? {} : { cause }),
  unavailable: (description: string) => new CarteError('service_unavailable', description),
};

function summarize(singular: string, fieldErrors: readonly FieldError[]): string {
  const first = fieldErrors[0];
  if (!first) return `The ${singular} is not valid`;
  const more = fieldErrors.length > 1 ? ` (and ${fieldErrors.length - 1} more problem${fieldErrors.length > 2 ? 's' : ''})` : '';
  return `${first.error_description}${more}`;
}

/** Turns anything thrown into a CarteError, keeping the original as the cause for the log. */
export function toCarteError(value: unknown): CarteError {
  if (value instanceof CarteError) return value;
  return errors.serverError(value);
}
