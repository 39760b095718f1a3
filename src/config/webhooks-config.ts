/**
 * The `webhooks` section of the configuration (SPEC §2, §7): the retry schedule, the
 * timeout, concurrency, when a failing endpoint is disabled, and the network safety switch.
 * Durations are seconds (`10`) or with a unit (`'10s'`, `'5d'`); they resolve to ms.
 */
import { parseDuration } from './config.js';

export interface WebhooksConfig {
  /** Delay before each retry, in ms (default 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h: about 3.1 days); when spent, the delivery fails. */
  readonly retrySchedule: readonly number[];
  /** Each delay is moved by up to ± this fraction at random (default 0.2), so retries of many deliveries spread out. */
  readonly jitter: number;
  /** A receiver that has not answered in this time is cut off (default 10 s). */
  readonly timeout: number;
  /** Deliveries to one endpoint in flight at once (default 10). */
  readonly concurrencyPerEndpoint: number;
  /** Deliveries in flight at once in this instance, every endpoint together (default 256). */
  readonly maxInFlight: number;
  /** An endpoint failing without a success for this long is disabled (default 5 days). */
  readonly disableAfter: number;
  /** Allow URLs resolving to private and loopback addresses (default false; local tests need it). Link-local and metadata addresses are refused always. */
  readonly allowPrivateNetworks: boolean;
  /** Bytes of a receiver's response kept in the delivery log (default 4096). */
  readonly maxResponseBodyLog: number;
  /** How long the secret before a rotation keeps signing (default 24 h). */
  readonly secretOverlap: number;
  /** How often the outbox is polled for due deliveries when nothing wakes it (default 1 s). */
  readonly pollInterval: number;
  /** How long a claimed delivery is leased to its instance; past it, another may take it over (default 60 s, at least the timeout). */
  readonly lease: number;
  /** Webhooks one principal may register (default 100). */
  readonly maxPerPrincipal: number;
}

export type WebhooksOverrides = { readonly [K in keyof WebhooksConfig]?: K extends 'retrySchedule' ? readonly (number | string)[] | string : WebhooksConfig[K] | string };

const DURATIONS = ['timeout', 'disableAfter', 'secretOverlap', 'pollInterval', 'lease'] as const;

export const DEFAULT_WEBHOOKS: WebhooksConfig = {
  retrySchedule: [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400].map((s) => s * 1000),
  jitter: 0.2,
  timeout: 10_000,
  concurrencyPerEndpoint: 10,
  maxInFlight: 256,
  disableAfter: 5 * 86_400_000,
  allowPrivateNetworks: false,
  maxResponseBodyLog: 4096,
  secretOverlap: 86_400_000,
  pollInterval: 1000,
  lease: 60_000,
  maxPerPrincipal: 100,
};

/** `CARTE_WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true`, `CARTE_WEBHOOKS_RETRY_SCHEDULE=1,2,4`, `CARTE_WEBHOOKS_TIMEOUT=10s`, … */
export function webhooksFromEnv(env: NodeJS.ProcessEnv): WebhooksOverrides | undefined {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(DEFAULT_WEBHOOKS)) {
    const value = env[`CARTE_WEBHOOKS_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`];
    if (value !== undefined && value !== '') out[key] = key === 'allowPrivateNetworks' ? /^(1|true|on|yes)$/i.test(value) : value;
  }
  return Object.keys(out).length > 0 ? (out as WebhooksOverrides) : undefined;
}

/** One layer of overrides onto `base`; problems are reported, not thrown. */
export function resolveWebhooks(base: WebhooksConfig, layer: WebhooksOverrides | undefined, problems: string[]): WebhooksConfig {
  if (!layer || typeof layer !== 'object') return base;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(layer)) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_WEBHOOKS)) {
      problems.push(`webhooks.${key} is not a setting (known: ${Object.keys(DEFAULT_WEBHOOKS).join(', ')})`);
      continue;
    }
    if (key === 'retrySchedule') {
      const items = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : Array.isArray(value) ? (value as unknown[]) : null;
      const ms = items?.map((v) => (typeof v === 'number' || typeof v === 'string' ? parseDuration(v) : NaN));
      if (!ms || ms.length === 0 || ms.some((v) => !Number.isFinite(v) || v < 0)) problems.push(`webhooks.retrySchedule must be a non-empty list of delays in seconds (got ${JSON.stringify(value)})`);
      else out.retrySchedule = ms;
    } else if (key === 'allowPrivateNetworks') {
      if (typeof value !== 'boolean') problems.push('webhooks.allowPrivateNetworks is true or false');
      else out[key] = value;
    } else if ((DURATIONS as readonly string[]).includes(key)) {
      const ms = typeof value === 'number' || typeof value === 'string' ? parseDuration(value) : NaN;
      if (!Number.isFinite(ms) || ms < 1) problems.push(`webhooks.${key} must be a positive duration (seconds, or 5d, 12h, 30m, 45s, 250ms; got ${JSON.stringify(value)})`);
      else out[key] = ms;
    } else {
      const n = typeof value === 'string' ? Number(value) : value;
      const ok = key === 'jitter' ? typeof n === 'number' && n >= 0 && n <= 1 : Number.isInteger(n) && (n as number) >= 1;
      if (!ok) problems.push(`webhooks.${key} must be ${key === 'jitter' ? 'a fraction between 0 and 1' : 'a positive integer'} (got ${JSON.stringify(value)})`);
      else out[key] = n;
    }
  }
  return out as unknown as WebhooksConfig;
}
