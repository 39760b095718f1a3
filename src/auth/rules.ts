/**
 * Access rules (SPEC §8) evaluated for a principal: a rule either refuses the call or
 * becomes a condition on rows (`owner:<field>`), so list, get, search, embed and subscribe
 * all go through the same filter. A missing rule denies.
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

export function hasScope(principal: Principal, scope: string): boolean {
  return principal.scopes.includes(scope) || principal.scopes.includes('*');
}

function unauthenticated(): CarteError {
  return new CarteError('no_credentials', 'This resource is under permission, you must be authenticated with the right rights to have access to it', {
    headers: { 'WWW-Authenticate': 'Bearer realm="carte"' },
  });
}

/** Evaluates one rule; `what` names the resource or operation in messages. */
export function evaluateRule(rule: AccessRule | undefined, principal: Principal, what: string, resource: ResourceModel | null, operation: Operation): AccessDecision {
  if (rule === undefined) return { allowed: false, error: new CarteError('not_allowed', "You're not allowed to perform this request") };
  if (rule === 'public') return ALLOW;
  if (rule === 'none') return { allowed: false, error: new CarteError('not_allowed', `Nobody may ${operation === 'read' ? 'read' : 'change'} ${what}`) };
  if (principal.kind === 'anonymous') return { allowed: false, error: unauthenticated() };
  if (rule === 'authenticated') return ALLOW;
  if (rule.startsWith('scope:')) {
    const scope = rule.slice(6);
    if (hasScope(principal, scope)) return ALLOW;
    return {
      allowed: false,
      error: new CarteError('insufficient_scope', `This request requires the scope '${scope}'`, {
        headers: { 'WWW-Authenticate': `Bearer realm="carte", error="insufficient_scope", scope="${scope}"` },
        extra: { scope },
      }),
    };
  }
  if (rule.startsWith('owner:') && resource) {
    const field = rule.slice(6);
    if (principal.scopes.includes('*')) return ALLOW; // full-scope development and admin tokens see every row
    const f = resource.fields.get(field);
    const subject = principal.subject as string;
    const value: string | number | null = f?.type === 'integer' ? (/^-?\d+$/.test(subject) ? Number(subject) : null) : subject;
    const column = { field, path: [], leafType: f?.type === 'integer' ? ('integer' as const) : ('string' as const), array: false };
    if (value === null) return { allowed: true, condition: { kind: 'false' }, owner: null };
    return { allowed: true, condition: { kind: 'in', column, values: [value] }, owner: { field, value } };
  }
  return { allowed: false, error: new CarteError('not_allowed', "You're not allowed to perform this request") };
}
