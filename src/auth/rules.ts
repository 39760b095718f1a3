/**
 * Access rules (SPEC §8) evaluated for a principal: a rule either refuses the call or
 * becomes a condition on rows (`owner:<field>`), so list, get, search, embed and subscribe
 * all go through the same filter. A missing rule denies.
 *
 * - `public`: anyone, with or without a token.
 * - `authenticated`: any valid token or API key, whatever its scopes.
 * - `scope:<name>`: a token carrying that scope; `scope` alone is the resource's default
 *   scope for the method: `<resource>:read` to read, `<resource>:write` to create, change
 *   or delete. A `<name>:write` scope also grants `<name>:read`.
 * - `owner:<field>`: any valid token, limited to rows whose field equals its subject.
 * - `none`: nobody.
 * The scope `*` (development and admin tokens) grants every scope and sees every owner's rows.
 */
import { CarteError } from '../errors.js';
import type { AccessRule, ResourceModel } from '../schema/types.js';
import type { Condition } from '../store/store.js';
import type { Principal } from './principal.js';

export type Operation = 'read' | 'create' | 'update' | 'delete';

export type AccessDecision =
  | { readonly allowed: true; readonly condition: Condition; readonly owner: { readonly field: string; readonly value: string | number } | null }
  | { readonly allowed: false; readonly error: CarteError };

const ALLOW: AccessDecision = { allowed: true, condition: { kind: 'true' }, owner: null };

/**
 * A refusal. Its error is made when first read (to throw it or explain it), not when the rule
 * is evaluated: an Error captures its stack, and an item's links ask of every action only
 * whether it is allowed. An anonymous GET of an item whose writes need a token made two such
 * errors per request: 160,000 instructions, more than the rest of the request.
 */
class Denial {
  readonly allowed = false as const;
  #error: CarteError | undefined;

  constructor(private readonly make: () => CarteError) {}

  get error(): CarteError {
    return (this.#error ??= this.make());
  }
}

const NOT_ALLOWED = () => new CarteError('not_allowed', "You're not allowed to perform this request");

/** The realm every `WWW-Authenticate: Bearer` challenge names (RFC 6750 §3). */
export const REALM = 'carte';

export function hasScope(principal: Principal, scope: string): boolean {
  if (principal.scopes.includes(scope) || principal.scopes.includes('*')) return true;
  // `orders:write` grants `orders:read`: who may change rows may read them.
  return scope.endsWith(':read') && principal.scopes.includes(`${scope.slice(0, -5)}:write`);
}

/** The scope a `scope` rule (without a name) stands for. */
export function defaultScope(resource: string, operation: Operation): string {
  return `${resource}:${operation === 'read' ? 'read' : 'write'}`;
}

/** The scope a rule requires for an operation, or null when the rule is not a scope rule. */
export function requiredScope(rule: AccessRule, resource: string | null, operation: Operation): string | null {
  if (rule === 'scope') return resource ? defaultScope(resource, operation) : null;
  return rule.startsWith('scope:') ? rule.slice(6) : null;
}

/** 401 with the RFC 6750 §3.1 challenge: no credentials, so no error code. */
export function noCredentials(description = 'This resource is under permission, you must be authenticated with the right rights to have access to it'): CarteError {
  return new CarteError('no_credentials', description, {
    headers: { 'WWW-Authenticate': `Bearer realm="${REALM}"` },
  });
}

function insufficientScope(scope: string): CarteError {
  return new CarteError('insufficient_scope', `This request requires the scope '${scope}'`, {
    headers: { 'WWW-Authenticate': `Bearer realm="${REALM}", error="insufficient_scope", error_description="The token lacks the scope ${scope}", scope="${scope}"` },
    extra: { scope },
  });
}

/** Evaluates one rule; `what` names the resource or operation in messages. */
export function evaluateRule(rule: AccessRule | undefined, principal: Principal, what: string, resource: ResourceModel | null, operation: Operation): AccessDecision {
  if (rule === undefined) return new Denial(NOT_ALLOWED);
  if (rule === 'public') return ALLOW;
  if (rule === 'none') return new Denial(() => new CarteError('not_allowed', `Nobody may ${operation === 'read' ? 'read' : 'change'} ${what}`));
  if (principal.kind === 'anonymous') return new Denial(() => noCredentials());
  if (rule === 'authenticated') return ALLOW;
  const scope = requiredScope(rule, resource?.name ?? null, operation);
  if (scope !== null) return hasScope(principal, scope) ? ALLOW : new Denial(() => insufficientScope(scope));
  if (rule.startsWith('owner:') && resource) {
    const field = rule.slice(6);
    if (principal.scopes.includes('*')) return ALLOW; // full-scope development and admin tokens see every row
    const f = resource.fields.get(field);
    const subject = principal.subject as string;
    const value: string | number | null = f?.type === 'integer' ? (/^-?\d{1,15}$/.test(subject) ? Number(subject) : null) : subject;
    const column = { field, path: [], leafType: f?.type === 'integer' ? ('integer' as const) : ('string' as const), array: false };
    if (value === null) {
      // A subject that cannot be a value of the owner field owns nothing: it reads no rows
      // and may write none (otherwise the owner field would be left to the body).
      if (operation === 'read') return { allowed: true, condition: { kind: 'false' }, owner: null };
      return new Denial(() => new CarteError('not_allowed', `Your subject '${subject}' cannot own ${what}: '${field}' is an integer`));
    }
    return { allowed: true, condition: { kind: 'in', column, values: [value] }, owner: { field, value } };
  }
  return new Denial(NOT_ALLOWED);
}

/**
 * Whether a stored row meets a condition a rule produced (`true`, `false`, an owner's `in`,
 * and their `and`/`or`): for the places that hold rows rather than run queries — event
 * fan-out, webhooks, the links an item offers. A condition that cannot be judged on the row
 * alone (a nested path, another kind) answers `undecided`: deny for data that must not leak,
 * offer for a link the service checks again when it is followed.
 */
export function rowMeets(condition: Condition, row: Readonly<Record<string, unknown>>, undecided = false): boolean {
  switch (condition.kind) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'and':
      return condition.items.every((c) => rowMeets(c, row, undecided));
    case 'or':
      return condition.items.some((c) => rowMeets(c, row, undecided));
    case 'in':
      return condition.column.path.length > 0 ? undecided : condition.values.some((v) => v === row[condition.column.field]);
    default:
      return undecided;
  }
}
