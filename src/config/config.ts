/**
 * Server settings: defaults, then the schema's `config:` section, then `CARTE_*`
 * environment variables, then command-line flags — each overriding the one before.
 * Every limit lives here, with its default, so it is configurable and documented once.
 */
import { DEFAULT_WEBHOOKS, resolveWebhooks, webhooksFromEnv, type WebhooksConfig, type WebhooksOverrides } from './webhooks-config.js';
import type { ConfigSpec } from '../schema/types.js';

export interface Limits {
  /** Largest request body accepted, in bytes (413 beyond). */
  readonly bodyBytes: number;
  /** Request line and headers, in bytes (Node answers 431 beyond). */
  readonly headerBytes: number;
  /** Items one bulk PUT may carry. */
  readonly bulkItems: number;
  /** Filters one request may carry. */
  readonly filters: number;
  /** Values one filter may list. */
  readonly valuesPerFilter: number;
  /** Characters of one filter value. */
  readonly valueLength: number;
  /** Nesting depth of `fields`. */
  readonly fieldsDepth: number;
  /** Characters of `fields`. */
  readonly fieldsLength: number;
  /** Sort keys one request may name. */
  readonly sortKeys: number;
  /** Items one global search page may hold. */
  readonly globalSearchMaxRange: number;
  /** Calls one JSON-RPC batch may carry (SPEC §5). */
  readonly rpcBatchSize: number;
  /** Largest `POST /v1/rpc` body, in bytes (413 beyond). */
  readonly rpcBodyBytes: number;
  /** Deepest nesting of fields in a GraphQL operation (SPEC §6). */
  readonly graphqlDepth: number;
  /** Most items one GraphQL operation may ask for: each list counts its page size, times the lists around it. */
  readonly graphqlCost: number;
  /** Aliases one GraphQL document may use. */
  readonly graphqlAliases: number;
  /** Operations one batched GraphQL request (a JSON array) may carry. */
  readonly graphqlBatchSize: number;
  /** Tokens one GraphQL document may hold (the parser stops beyond). */
  readonly graphqlTokens: number;
}

/** OAuth2 and tokens (SPEC §8). */
export interface AuthConfig {
  /** `iss` of access tokens and of the metadata; default: `hosts.oauth`, `publicUrl`, or the URL the request came in on. */
  readonly issuer?: string;
  /** `aud` of access tokens (RFC 9068); default: the API's base URL (`…/v1`). Checked on every request when set. */
  readonly audience?: string;
  /** Seconds an access token lives. */
  readonly accessTokenTtl: number;
  /** Seconds a refresh token lives (each use rotates it). */
  readonly refreshTokenTtl: number;
  /** Issue a refresh token with client_credentials (RFC 6749 §4.4.3 leaves it to the server). */
  readonly refreshTokens: boolean;
  /** Seconds the `--dev` token lives. */
  readonly devTokenTtl: number;
  /** Encrypts the token signing keys at rest (AES-256-GCM); keep it out of the schema: `CARTE_AUTH_SECRET`. */
  readonly secret?: string;
}

/** A quota for one resource, overriding the global one. */
export interface RatePolicyConfig {
  readonly anonymous?: number;
  readonly authenticated?: number;
  readonly window?: number;
}

/** Rate limits per principal, per IP when anonymous (SPEC §8). */
export interface RateLimitConfig {
  readonly enabled: boolean;
  /** Seconds of one window. */
  readonly window: number;
  /** Requests per window from one IP address without credentials. */
  readonly anonymous: number;
  /** Requests per window from one principal (token subject or API key). */
  readonly authenticated: number;
  /** Failed authentications (bad client secret, bad token) per window from one IP before it gets 429. */
  readonly authFailures: number;
  /** Per-resource quotas (`orders: { authenticated: 100 }`), counted apart from the global one. */
  readonly resources: Readonly<Record<string, RatePolicyConfig>>;
}

/** `--tls-cert` / `--tls-key`: PEM files; Carte then serves HTTP/2 with TLS (and HTTP/1.1). */
export interface TlsConfig {
  readonly cert: string;
  readonly key: string;
}

/** SPEC §8 "Domains": one host per face; each face answers only on its own. */
export interface HostsConfig {
  /** `/v1` (e.g. `api.example.com`). */
  readonly api?: string;
  /** `/oauth` and `/.well-known` (e.g. `oauth2.example.com`). */
  readonly oauth?: string;
  /** `/docs` (e.g. `developers.example.com`). */
  readonly developer?: string;
}

/**
 * Events (SPEC §7). Durations are given as seconds (`120`) or with a unit (`'7d'`, `'12h'`,
 * `'30m'`, `'45s'`, `'250ms'`) and resolved to milliseconds.
 */
export interface EventsConfig {
  /** How long events are kept, in ms (default 7 days); older ones are purged in the background. */
  readonly retention: number;
  /** The longest `Prefer: wait` honoured, in ms (default 120 s). */
  readonly maxWait: number;
  /** How often expired events are purged, in ms (default 1 min). */
  readonly purgeInterval: number;
  /** WebSocket ping and SSE comment interval, in ms (default 30 s); a socket that misses a pong is dropped. */
  readonly heartbeat: number;
  /** Most events one page of `/v1/events` holds (default 100). */
  readonly maxRange: number;
  /** Subscriptions one WebSocket may hold at once (default 100). */
  readonly maxSubscriptions: number;
  /** Largest WebSocket message accepted, in bytes (default 64 KiB; closed with 1009 beyond). */
  readonly maxMessageBytes: number;
  /** Bytes waiting to be sent to one WebSocket or SSE client before it is closed as too slow (default 1 MiB). */
  readonly bufferBytes: number;
}

export type EventsOverrides = { readonly [K in keyof EventsConfig]?: number | string };

const DURATIONS = ['retention', 'maxWait', 'purgeInterval', 'heartbeat'] as const;

export const DEFAULT_EVENTS: EventsConfig = {
  retention: 7 * 24 * 3600_000,
  maxWait: 120_000,
  purgeInterval: 60_000,
  heartbeat: 30_000,
  maxRange: 100,
  maxSubscriptions: 100,
  maxMessageBytes: 64 * 1024,
  bufferBytes: 1024 * 1024,
};

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };

/** `7d`, `12h`, `30m`, `45s`, `250ms`, or a number of seconds → milliseconds; NaN when malformed. */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') return value * 1000;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!m) return NaN;
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']!);
}

export { DEFAULT_WEBHOOKS, type WebhooksConfig } from './webhooks-config.js';

/** CORS (SPEC §4.11): who may call from a browser, and what a script may read. */
export interface CorsConfig {
  /** `*` (any origin, the default) or the exact origins allowed (`https://app.example.com`). */
  readonly origins: '*' | readonly string[];
  /** Send `Access-Control-Allow-Credentials: true` (needs an explicit origin list). */
  readonly credentials: boolean;
  /** Seconds a browser may cache a preflight answer (`Access-Control-Max-Age`). */
  readonly maxAge: number;
  /** Request headers a browser may send (`Access-Control-Allow-Headers`). */
  readonly allowedHeaders: readonly string[];
  /** Response headers a script may read (`Access-Control-Expose-Headers`). */
  readonly exposedHeaders: readonly string[];
}

/** JSONP (SPEC §4.11): `GET /v1/orders.jsonp?callback=f`. */
export interface JsonpConfig {
  readonly enabled: boolean;
  /** Allow `method=POST|PUT|PATCH|DELETE` (with `access_token`); off by default (seed 004: crawlers). */
  readonly unsafeMethods: boolean;
}

/** `Idempotency-Key` on POST (SPEC §4.7). */
export interface IdempotencyConfig {
  /** Seconds a key is remembered (24 h); expired keys are purged. */
  readonly ttlSeconds: number;
  /** Seconds a duplicate waits for the first request with its key to finish before a 409. */
  readonly waitSeconds: number;
}

/** Prometheus `/metrics` (SPEC §11). */
export interface MetricsConfig {
  /** Serve `/metrics` at all (default true; false: 404). */
  readonly enabled: boolean;
  /**
   * Who may read `/metrics` without a token: `loopback` (default: this machine only, e.g.
   * a Prometheus agent or sidecar) or `any` (a trusted network). With `token` set, every
   * caller must present it instead, from any address.
   */
  readonly allow: 'loopback' | 'any';
  /** A bearer token scrapers must send (`Authorization: Bearer …`); keep it out of the schema: `CARTE_METRICS_TOKEN`. */
  readonly token?: string;
  /** Include Node's process metrics (CPU, memory, event-loop lag, GC) (default true). */
  readonly processMetrics: boolean;
}

/** Large binary fields (SPEC §4.9). */
export interface BlobConfig {
  /** Directory of blob files; default: `<db file>-blobs` next to the database (a temp dir for `sqlite::memory:`). */
  readonly dir?: string;
}

export interface CarteConfig {
  readonly port: number;
  readonly host: string;
  /** `./carte.db`, `sqlite:path`, `sqlite::memory:` or `postgres://…` */
  readonly db: string;
  readonly dev: boolean;
  /** Absolute base URL for links when behind a proxy (`https://api.example.com`). */
  readonly publicUrl?: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** `full`: every acknowledged write is fsynced (survives power loss); `normal`: survives a crash of Carte. */
  readonly durability: 'full' | 'normal' | 'off';
  readonly limits: Limits;
  /** Matches counted exactly before `Prefer: count=estimated` extrapolates. */
  readonly estimateThreshold: number;
  readonly auth: AuthConfig;
  readonly rateLimits: RateLimitConfig;
  readonly tls?: TlsConfig;
  /** `Strict-Transport-Security` sent on TLS responses (empty: none). */
  readonly hsts: string;
  readonly hosts?: HostsConfig;
  /** Take the client address from `X-Forwarded-For` (behind a reverse proxy). */
  readonly trustProxy: boolean;
  /** PostgreSQL: connections in the pool (reads run in parallel on them; writes use one at a time). */
  readonly dbPoolSize: number;
  readonly events: EventsConfig;
  readonly cors: CorsConfig;
  readonly jsonp: JsonpConfig;
  readonly idempotency: IdempotencyConfig;
  readonly blobs: BlobConfig;
  readonly metrics: MetricsConfig;
  /**
   * SIGTERM (SPEC §11): the bound, in ms, on a graceful shutdown (default 10 s) — held long
   * polls answered, sockets closed with 1001, in-flight requests finished; connections
   * still open when it runs out are cut. Given as seconds or with a unit (`'30s'`).
   */
  readonly shutdownTimeout: number;
  /** Webhook deliveries (SPEC §7): retry schedule, timeout, concurrency, network safety. */
  readonly webhooks: WebhooksConfig;
}

/** The rate-limit headers (IETF draft-ietf-httpapi-ratelimit-headers) a browser script may read. */
export const RATE_LIMIT_HEADERS: readonly string[] = ['RateLimit', 'RateLimit-Policy', 'Retry-After'];

export const DEFAULT_CORS: CorsConfig = {
  origins: '*',
  credentials: false,
  maxAge: 7200,
  allowedHeaders: [
    'Accept', 'Accept-Language', 'Authorization', 'Content-Type', 'If-Match', 'If-None-Match', 'If-Modified-Since',
    'If-Unmodified-Since', 'If-Range', 'Range', 'Prefer', 'Idempotency-Key', 'Api-Version', 'X-Request-Id', 'Last-Event-ID',
  ],
  exposedHeaders: [
    'Content-Range', 'Accept-Range', 'Accept-Ranges', 'Link', 'Location', 'ETag', 'Last-Modified', 'Preference-Applied',
    'Idempotent-Replayed', 'Deprecation', 'Sunset', 'X-Request-Id', ...RATE_LIMIT_HEADERS,
  ],
};

export const DEFAULT_LIMITS: Limits = {
  bodyBytes: 1024 * 1024,
  headerBytes: 2 * 1024 * 1024,
  bulkItems: 1000,
  filters: 50,
  valuesPerFilter: 500,
  valueLength: 2048,
  fieldsDepth: 4,
  fieldsLength: 2048,
  sortKeys: 10,
  globalSearchMaxRange: 50,
  rpcBatchSize: 100,
  rpcBodyBytes: 1024 * 1024,
  graphqlDepth: 12,
  graphqlCost: 10000,
  graphqlAliases: 30,
  graphqlBatchSize: 10,
  graphqlTokens: 10000,
};

export const DEFAULT_AUTH: AuthConfig = {
  accessTokenTtl: 3600,
  refreshTokenTtl: 30 * 24 * 3600,
  refreshTokens: true,
  devTokenTtl: 24 * 3600,
};

export const DEFAULT_RATE_LIMITS: RateLimitConfig = {
  enabled: true,
  window: 60,
  anonymous: 1000,
  authenticated: 10000,
  authFailures: 20,
  resources: {},
};

export const DEFAULT_CONFIG: CarteConfig = {
  port: 3000,
  host: '127.0.0.1',
  db: './carte.db',
  dev: false,
  logLevel: 'info',
  durability: 'full',
  limits: DEFAULT_LIMITS,
  estimateThreshold: 1000,
  auth: DEFAULT_AUTH,
  rateLimits: DEFAULT_RATE_LIMITS,
  hsts: 'max-age=31536000',
  trustProxy: false,
  dbPoolSize: 10,
  events: DEFAULT_EVENTS,
  cors: DEFAULT_CORS,
  jsonp: { enabled: true, unsafeMethods: false },
  idempotency: { ttlSeconds: 24 * 60 * 60, waitSeconds: 30 },
  blobs: {},
  metrics: { enabled: true, allow: 'loopback', processMetrics: true },
  shutdownTimeout: 10_000,
  webhooks: DEFAULT_WEBHOOKS,
};

/** Sections merged member by member across layers (a layer may set one member only). */
const SECTIONS = ['limits', 'cors', 'jsonp', 'idempotency', 'blobs', 'auth', 'hosts', 'metrics'] as const;
type Section = (typeof SECTIONS)[number];

export type ConfigOverrides = Partial<Omit<CarteConfig, Section | 'rateLimits' | 'events' | 'shutdownTimeout' | 'webhooks'>> & { [K in Section]?: Partial<NonNullable<CarteConfig[K]>> } & {
  rateLimits?: Partial<RateLimitConfig>;
  events?: EventsOverrides;
  webhooks?: WebhooksOverrides;
  /** Seconds, or a duration with a unit (`'30s'`, `'1m'`). */
  shutdownTimeout?: number | string;
};

function fromSchema(spec: ConfigSpec | undefined): ConfigOverrides {
  if (!spec) return {};
  const out: ConfigOverrides = {};
  for (const section of [...SECTIONS, 'rateLimits', 'events', 'webhooks'] as const) {
    const value = spec[section];
    if (value && typeof value === 'object' && !Array.isArray(value)) (out as Record<string, unknown>)[section] = value;
  }
  for (const key of ['publicUrl', 'logLevel', 'durability', 'estimateThreshold', 'hsts', 'trustProxy', 'dbPoolSize', 'shutdownTimeout'] as const) {
    if (spec[key] !== undefined) (out as Record<string, unknown>)[key] = spec[key];
  }
  return out;
}

/** `CARTE_PORT`, `CARTE_HOST`, `CARTE_DB`, `CARTE_LOG_LEVEL`, `CARTE_PUBLIC_URL`, `CARTE_DURABILITY`, `CARTE_LIMITS_BODY_BYTES`, … */
export function fromEnv(env: NodeJS.ProcessEnv): ConfigOverrides {
  const out: Record<string, unknown> = {};
  const limits: Record<string, number> = {};
  if (env.CARTE_PORT) out.port = Number(env.CARTE_PORT);
  if (env.CARTE_HOST) out.host = env.CARTE_HOST;
  if (env.CARTE_DB) out.db = env.CARTE_DB;
  if (env.CARTE_LOG_LEVEL) out.logLevel = env.CARTE_LOG_LEVEL;
  if (env.CARTE_PUBLIC_URL) out.publicUrl = env.CARTE_PUBLIC_URL;
  if (env.CARTE_DURABILITY) out.durability = env.CARTE_DURABILITY;
  if (env.CARTE_DB_POOL_SIZE) out.dbPoolSize = Number(env.CARTE_DB_POOL_SIZE);
  for (const key of Object.keys(DEFAULT_LIMITS)) {
    const name = `CARTE_LIMITS_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
    if (env[name]) limits[key] = Number(env[name]);
  }
  if (Object.keys(limits).length > 0) out.limits = limits;
  const auth: Record<string, unknown> = {};
  if (env.CARTE_AUTH_SECRET) auth.secret = env.CARTE_AUTH_SECRET;
  if (env.CARTE_AUTH_ISSUER) auth.issuer = env.CARTE_AUTH_ISSUER;
  if (env.CARTE_AUTH_AUDIENCE) auth.audience = env.CARTE_AUTH_AUDIENCE;
  if (env.CARTE_AUTH_ACCESS_TOKEN_TTL) auth.accessTokenTtl = Number(env.CARTE_AUTH_ACCESS_TOKEN_TTL);
  if (env.CARTE_AUTH_REFRESH_TOKEN_TTL) auth.refreshTokenTtl = Number(env.CARTE_AUTH_REFRESH_TOKEN_TTL);
  if (Object.keys(auth).length > 0) out.auth = auth;
  const rate: Record<string, unknown> = {};
  if (env.CARTE_RATE_LIMITS_ENABLED) rate.enabled = !/^(0|false|off|no)$/i.test(env.CARTE_RATE_LIMITS_ENABLED);
  for (const key of ['window', 'anonymous', 'authenticated', 'authFailures'] as const) {
    const name = `CARTE_RATE_LIMITS_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
    if (env[name]) rate[key] = Number(env[name]);
  }
  if (Object.keys(rate).length > 0) out.rateLimits = rate;
  if (env.CARTE_TLS_CERT && env.CARTE_TLS_KEY) out.tls = { cert: env.CARTE_TLS_CERT, key: env.CARTE_TLS_KEY };
  if (env.CARTE_HSTS !== undefined) out.hsts = env.CARTE_HSTS;
  if (env.CARTE_TRUST_PROXY) out.trustProxy = /^(1|true|on|yes)$/i.test(env.CARTE_TRUST_PROXY);
  const hosts: Record<string, string> = {};
  if (env.CARTE_HOSTS_API) hosts.api = env.CARTE_HOSTS_API;
  if (env.CARTE_HOSTS_OAUTH) hosts.oauth = env.CARTE_HOSTS_OAUTH;
  if (env.CARTE_HOSTS_DEVELOPER) hosts.developer = env.CARTE_HOSTS_DEVELOPER;
  if (Object.keys(hosts).length > 0) out.hosts = hosts;
  // CARTE_EVENTS_RETENTION=7d, CARTE_EVENTS_MAX_WAIT=60, CARTE_EVENTS_BUFFER_BYTES=…
  const events: Record<string, number | string> = {};
  for (const key of Object.keys(DEFAULT_EVENTS)) {
    const name = `CARTE_EVENTS_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
    const value = env[name];
    if (value) events[key] = (DURATIONS as readonly string[]).includes(key) && !/^\d+(\.\d+)?$/.test(value) ? value : Number(value);
  }
  if (Object.keys(events).length > 0) out.events = events;
  const list = (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean);
  const flag = (v: string) => v === 'true' || v === '1' || v === 'yes';
  const cors: Record<string, unknown> = {};
  if (env.CARTE_CORS_ORIGINS) cors.origins = env.CARTE_CORS_ORIGINS.trim() === '*' ? '*' : list(env.CARTE_CORS_ORIGINS);
  if (env.CARTE_CORS_CREDENTIALS) cors.credentials = flag(env.CARTE_CORS_CREDENTIALS);
  if (env.CARTE_CORS_MAX_AGE) cors.maxAge = Number(env.CARTE_CORS_MAX_AGE);
  if (Object.keys(cors).length > 0) out.cors = cors;
  const jsonp: Record<string, unknown> = {};
  if (env.CARTE_JSONP_ENABLED) jsonp.enabled = flag(env.CARTE_JSONP_ENABLED);
  if (env.CARTE_JSONP_UNSAFE_METHODS) jsonp.unsafeMethods = flag(env.CARTE_JSONP_UNSAFE_METHODS);
  if (Object.keys(jsonp).length > 0) out.jsonp = jsonp;
  const idempotency: Record<string, unknown> = {};
  if (env.CARTE_IDEMPOTENCY_TTL_SECONDS) idempotency.ttlSeconds = Number(env.CARTE_IDEMPOTENCY_TTL_SECONDS);
  if (env.CARTE_IDEMPOTENCY_WAIT_SECONDS) idempotency.waitSeconds = Number(env.CARTE_IDEMPOTENCY_WAIT_SECONDS);
  if (Object.keys(idempotency).length > 0) out.idempotency = idempotency;
  if (env.CARTE_BLOBS_DIR) out.blobs = { dir: env.CARTE_BLOBS_DIR };
  const metrics: Record<string, unknown> = {};
  if (env.CARTE_METRICS_ENABLED) metrics.enabled = flag(env.CARTE_METRICS_ENABLED);
  if (env.CARTE_METRICS_ALLOW) metrics.allow = env.CARTE_METRICS_ALLOW;
  if (env.CARTE_METRICS_TOKEN) metrics.token = env.CARTE_METRICS_TOKEN;
  if (env.CARTE_METRICS_PROCESS_METRICS) metrics.processMetrics = flag(env.CARTE_METRICS_PROCESS_METRICS);
  if (Object.keys(metrics).length > 0) out.metrics = metrics;
  if (env.CARTE_SHUTDOWN_TIMEOUT) out.shutdownTimeout = /^\d+(\.\d+)?$/.test(env.CARTE_SHUTDOWN_TIMEOUT) ? Number(env.CARTE_SHUTDOWN_TIMEOUT) : env.CARTE_SHUTDOWN_TIMEOUT;
  const webhooks = webhooksFromEnv(env);
  if (webhooks) out.webhooks = webhooks;
  return out as ConfigOverrides;
}

export function resolveConfig(schemaConfig: ConfigSpec | undefined, ...layers: ConfigOverrides[]): CarteConfig {
  let config: CarteConfig = DEFAULT_CONFIG;
  const problems: string[] = [];
  for (const layer of [fromSchema(schemaConfig), ...layers]) {
    const merged: Record<string, unknown> = { ...config };
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      if ((SECTIONS as readonly string[]).includes(key)) {
        const defined = Object.fromEntries(Object.entries(value as object).filter(([, v]) => v !== undefined));
        merged[key] = { ...((config[key as Section] ?? {}) as object), ...defined };
      } else if (key === 'rateLimits') {
        const rate = value as Partial<RateLimitConfig>;
        merged.rateLimits = { ...config.rateLimits, ...rate, resources: { ...config.rateLimits.resources, ...(rate.resources ?? {}) } };
      } else if (key === 'events') {
        merged.events = { ...config.events, ...resolveEvents(value as EventsOverrides, problems) };
      } else if (key === 'shutdownTimeout') {
        const ms = typeof value === 'number' || typeof value === 'string' ? parseDuration(value) : NaN;
        if (Number.isNaN(ms) || ms < 1) problems.push(`shutdownTimeout must be a positive duration (seconds, or 30s, 1m; got ${JSON.stringify(value)})`);
        else merged.shutdownTimeout = ms;
      } else if (key === 'webhooks') {
        merged.webhooks = resolveWebhooks(config.webhooks, value as WebhooksOverrides, problems);
      } else merged[key] = value;
    }
    config = merged as unknown as CarteConfig;
  }
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) problems.push(`port must be 0–65535 (got ${config.port})`);
  for (const [k, v] of Object.entries(config.limits)) if (!Number.isInteger(v) || v < 1) problems.push(`limits.${k} must be a positive integer (got ${String(v)})`);
  if (!['full', 'normal', 'off'].includes(config.durability)) problems.push('durability must be full, normal or off');
  for (const key of ['accessTokenTtl', 'refreshTokenTtl', 'devTokenTtl'] as const) {
    const v = config.auth[key];
    if (!Number.isInteger(v) || v < 1) problems.push(`auth.${key} must be a positive number of seconds (got ${String(v)})`);
  }
  for (const key of ['window', 'anonymous', 'authenticated', 'authFailures'] as const) {
    const v = config.rateLimits[key];
    if (!Number.isInteger(v) || v < 1) problems.push(`rateLimits.${key} must be a positive integer (got ${String(v)})`);
  }
  for (const [name, policy] of Object.entries(config.rateLimits.resources)) {
    for (const [k, v] of Object.entries(policy ?? {})) {
      if (!['anonymous', 'authenticated', 'window'].includes(k)) problems.push(`rateLimits.resources.${name}.${k} is not a setting (anonymous, authenticated, window)`);
      else if (!Number.isInteger(v) || (v as number) < 1) problems.push(`rateLimits.resources.${name}.${k} must be a positive integer (got ${String(v)})`);
    }
  }
  for (const [face, host] of Object.entries(config.hosts ?? {})) {
    if (host !== undefined && !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(host)) problems.push(`hosts.${face} must be a host name, with an optional port (got ${String(host)})`);
  }
  if (!Number.isInteger(config.dbPoolSize) || config.dbPoolSize < 2) problems.push(`dbPoolSize must be an integer of at least 2 (got ${String(config.dbPoolSize)})`);
  for (const [k, v] of Object.entries(config.events)) {
    const duration = (DURATIONS as readonly string[]).includes(k);
    if (!Number.isFinite(v) || v < 1 || (!duration && !Number.isInteger(v))) {
      problems.push(`events.${k} must be ${duration ? 'a positive duration (seconds, or 7d, 12h, 30m, 45s, 250ms)' : 'a positive integer'} (got ${String(v)})`);
    }
  }
  const { cors, jsonp, idempotency, blobs, metrics } = config;
  if (typeof metrics.enabled !== 'boolean' || typeof metrics.processMetrics !== 'boolean') problems.push('metrics.enabled and metrics.processMetrics are true or false');
  if (metrics.allow !== 'loopback' && metrics.allow !== 'any') problems.push(`metrics.allow must be loopback or any (got ${JSON.stringify(metrics.allow)})`);
  if (metrics.token !== undefined && (typeof metrics.token !== 'string' || !/^[\x21-\x7e]{16,}$/.test(metrics.token))) {
    problems.push('metrics.token must be at least 16 printable characters without spaces');
  }
  if (cors.origins !== '*' && (!Array.isArray(cors.origins) || cors.origins.some((o) => typeof o !== 'string' || !/^https?:\/\/[^/\s]+$/.test(o)))) {
    problems.push("cors.origins must be '*' or a list of origins such as https://app.example.com (scheme and host, no path)");
  }
  if (cors.credentials === true && cors.origins === '*') problems.push('cors.credentials needs an explicit list of cors.origins (browsers refuse credentials with *)');
  if (!Number.isInteger(cors.maxAge) || cors.maxAge < 0) problems.push(`cors.maxAge must be a number of seconds (got ${String(cors.maxAge)})`);
  for (const key of ['allowedHeaders', 'exposedHeaders'] as const) {
    if (!Array.isArray(cors[key]) || cors[key].some((h) => typeof h !== 'string' || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(h))) problems.push(`cors.${key} must be a list of header names`);
  }
  if (typeof jsonp.enabled !== 'boolean' || typeof jsonp.unsafeMethods !== 'boolean') problems.push('jsonp.enabled and jsonp.unsafeMethods are true or false');
  if (!Number.isInteger(idempotency.ttlSeconds) || idempotency.ttlSeconds < 1) problems.push(`idempotency.ttlSeconds must be a positive integer (got ${String(idempotency.ttlSeconds)})`);
  if (!Number.isFinite(idempotency.waitSeconds) || idempotency.waitSeconds < 0) problems.push(`idempotency.waitSeconds must be a number of seconds (got ${String(idempotency.waitSeconds)})`);
  if (blobs.dir !== undefined && (typeof blobs.dir !== 'string' || blobs.dir === '')) problems.push('blobs.dir must be a directory path');
  if (problems.length > 0) throw new Error(`Invalid configuration: ${problems.join('; ')}`);
  return config;
}

/** Durations of one layer to milliseconds; unknown keys and malformed values are reported. */
function resolveEvents(events: EventsOverrides | undefined, problems: string[]): Partial<EventsConfig> {
  if (!events) return {};
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(events)) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_EVENTS)) {
      problems.push(`events.${key} is not a setting (known: ${Object.keys(DEFAULT_EVENTS).join(', ')})`);
      continue;
    }
    if ((DURATIONS as readonly string[]).includes(key)) {
      const ms = typeof value === 'number' || typeof value === 'string' ? parseDuration(value) : NaN;
      if (Number.isNaN(ms)) problems.push(`events.${key} must be a duration (seconds, or 7d, 12h, 30m, 45s, 250ms; got ${JSON.stringify(value)})`);
      else out[key] = ms;
    } else {
      out[key] = typeof value === 'string' ? Number(value) : value;
    }
  }
  return out as Partial<EventsConfig>;
}
