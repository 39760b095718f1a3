/**
 * Server settings: defaults, then the schema's `config:` section, then `CARTE_*`
 * environment variables, then command-line flags — each overriding the one before.
 * Every limit lives here, with its default, so it is configurable and documented once.
 */
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
  /** PostgreSQL: connections in the pool (reads run in parallel on them; writes use one at a time). */
  readonly dbPoolSize: number;
}

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
  dbPoolSize: 10,
};

export type ConfigOverrides = Partial<Omit<CarteConfig, 'limits'>> & { limits?: Partial<Limits> };

function fromSchema(spec: ConfigSpec | undefined): ConfigOverrides {
  if (!spec) return {};
  const out: ConfigOverrides = {};
  if (spec.limits && typeof spec.limits === 'object') out.limits = spec.limits as Partial<Limits>;
  for (const key of ['publicUrl', 'logLevel', 'durability', 'estimateThreshold', 'dbPoolSize'] as const) {
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
  return out as ConfigOverrides;
}

export function resolveConfig(schemaConfig: ConfigSpec | undefined, ...layers: ConfigOverrides[]): CarteConfig {
  let config: CarteConfig = DEFAULT_CONFIG;
  for (const layer of [fromSchema(schemaConfig), ...layers]) {
    const { limits, ...rest } = layer;
    const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
    config = { ...config, ...defined, limits: { ...config.limits, ...(limits ?? {}) } };
  }
  const problems: string[] = [];
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) problems.push(`port must be 0–65535 (got ${config.port})`);
  for (const [k, v] of Object.entries(config.limits)) if (!Number.isInteger(v) || v < 1) problems.push(`limits.${k} must be a positive integer (got ${String(v)})`);
  if (!['full', 'normal', 'off'].includes(config.durability)) problems.push('durability must be full, normal or off');
  if (!Number.isInteger(config.dbPoolSize) || config.dbPoolSize < 2) problems.push(`dbPoolSize must be an integer of at least 2 (got ${String(config.dbPoolSize)})`);
  if (problems.length > 0) throw new Error(`Invalid configuration: ${problems.join('; ')}`);
  return config;
}
