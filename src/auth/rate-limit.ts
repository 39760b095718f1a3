/**
 * Rate limits (SPEC §8): a fixed-window quota per principal — per IP address without
 * credentials — optionally per resource, and a separate budget of failed authentications
 * per address that stops secret guessing on `/oauth/token` and bearer tokens. In memory,
 * per process, bounded; protocol-neutral (the HTTP guard turns states into the
 * draft-ietf-httpapi-ratelimit-headers `RateLimit` / `RateLimit-Policy` fields).
 */
import type { RateLimitConfig } from '../config/config.js';
import { principalKey, type Principal } from './principal.js';

export interface RatePolicy {
  /** The policy's name in the headers (`"anonymous"`, `"authenticated"`, `"orders"`, `"auth-failures"`). */
  readonly name: string;
  /** Quota units (requests) per window. */
  readonly quota: number;
  /** Seconds. */
  readonly window: number;
}

export interface RateState {
  readonly policy: RatePolicy;
  readonly allowed: boolean;
  /** Units left in the window. */
  readonly remaining: number;
  /** Seconds until the window resets (at least 1). */
  readonly reset: number;
}

interface Window {
  count: number;
  resetAt: number;
}

/** Fixed windows per key; the key set is bounded so a flood of addresses cannot grow memory without end. */
export class RateLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly maxKeys = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  private window(key: string, policy: RatePolicy): Window {
    const now = this.now();
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      if (!w && this.windows.size >= this.maxKeys) this.evict(now);
      w = { count: 0, resetAt: now + policy.window * 1000 };
      this.windows.set(key, w);
    }
    return w;
  }

  private state(w: Window, policy: RatePolicy, allowed: boolean): RateState {
    return { policy, allowed, remaining: Math.max(0, policy.quota - w.count), reset: Math.max(1, Math.ceil((w.resetAt - this.now()) / 1000)) };
  }

  /** Counts `cost` units against the key; not allowed once the quota is used up. */
  take(key: string, policy: RatePolicy, cost = 1): RateState {
    const w = this.window(key, policy);
    if (w.count + cost > policy.quota) {
      w.count = policy.quota;
      return this.state(w, policy, false);
    }
    w.count += cost;
    return this.state(w, policy, true);
  }

  /** The key's state without counting anything. */
  peek(key: string, policy: RatePolicy): RateState {
    const w = this.windows.get(key);
    if (!w || w.resetAt <= this.now()) return { policy, allowed: true, remaining: policy.quota, reset: policy.window };
    return this.state(w, policy, w.count < policy.quota);
  }

  private evict(now: number): void {
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
    // Still full: drop the oldest tenth (Map keeps insertion order).
    if (this.windows.size >= this.maxKeys) {
      let n = Math.ceil(this.maxKeys / 10);
      for (const k of this.windows.keys()) {
        if (n-- <= 0) break;
        this.windows.delete(k);
      }
    }
  }
}

/** The configured policies over one limiter. */
export class RateLimits {
  private readonly limiter: RateLimiter;
  private readonly failures: RatePolicy;

  constructor(
    private readonly config: RateLimitConfig,
    now: () => number = Date.now,
  ) {
    this.limiter = new RateLimiter(100_000, now);
    this.failures = { name: 'auth-failures', quota: config.authFailures, window: config.window };
  }

  get enabled(): boolean {
    return this.config.enabled;
  }

  /** The policy a request falls under: the resource's own quota when it declares one for this kind of caller. */
  policyFor(anonymous: boolean, resource: string | null): RatePolicy {
    const own = resource ? this.config.resources[resource] : undefined;
    const quota = own ? (anonymous ? own.anonymous : own.authenticated) : undefined;
    if (own && quota !== undefined) return { name: resource as string, quota, window: own.window ?? this.config.window };
    return anonymous ? { name: 'anonymous', quota: this.config.anonymous, window: this.config.window } : { name: 'authenticated', quota: this.config.authenticated, window: this.config.window };
  }

  /** Counts one request; null when rate limiting is off. */
  request(principal: Principal, ip: string, resource: string | null): RateState | null {
    if (!this.config.enabled) return null;
    const anonymous = principal.subject === null;
    const policy = this.policyFor(anonymous, resource);
    const who = anonymous ? `ip:${ip}` : principalKey(principal);
    return this.limiter.take(`${policy.name}|${who}`, policy);
  }

  /** The address's failure budget when it is used up (its requests with credentials get 429), else null. */
  failuresExhausted(ip: string): RateState | null {
    if (!this.config.enabled) return null;
    const state = this.limiter.peek(`auth-failures|${ip}`, this.failures);
    return state.remaining === 0 ? { ...state, allowed: false } : null;
  }

  /** Counts one failed authentication from an address. */
  recordFailure(ip: string): RateState | null {
    if (!this.config.enabled) return null;
    return this.limiter.take(`auth-failures|${ip}`, this.failures);
  }
}
