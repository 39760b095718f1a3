/**
 * Hypermedia links of an item (SPEC §4.8, seed 003's format): what the caller may do
 * with it — the self actions its access rules allow, its relations, its blobs, its item
 * actions, and for a state machine the transitions open from the current state.
 * Protocol-neutral data; REST renders it in bodies and as an RFC 8288 `Link` header.
 */
import { evaluateRule, rowMeets, type Operation } from '../auth/rules.js';
import type { Principal } from '../auth/principal.js';
import type { ApiModel, JsonObject, ResourceModel } from '../schema/types.js';
import type { Key, Row } from '../store/store.js';
import { itemHref } from './present.js';

export interface ItemLink {
  /** `self`, a relation (`client`, `orders`), a blob field, an action, or `state:<next>`. */
  readonly rel: string;
  readonly href: string;
  /** The HTTP method of the action. */
  readonly action: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Media types the action answers with (GET) or takes (writes); empty when it takes no body. */
  readonly types: readonly string[];
  /** The body that performs a transition (`{"state":"ready"}`). */
  readonly body?: JsonObject;
}

/** `self`: just the item's own GET link (collection items); `full`: everything the caller may do. */
export type LinkLevel = 'self' | 'full';

/**
 * What items and collections can be read as, and what writes accept (SPEC §4.2). Frozen: the
 * same arrays are shared by every link, and a renderer may write each once (src/protocols/rest/reply.ts).
 */
export const READ_TYPES: readonly string[] = Object.freeze(['application/json', 'application/xml']);
export const COLLECTION_TYPES: readonly string[] = Object.freeze(['application/json', 'application/xml', 'text/csv']);
export const REPLACE_TYPES: readonly string[] = Object.freeze(['application/json', 'application/xml', 'application/x-www-form-urlencoded']);
export const PATCH_TYPES: readonly string[] = Object.freeze(['application/merge-patch+json', 'application/json', 'application/xml']);
const TRANSITION_TYPES: readonly string[] = Object.freeze(['application/merge-patch+json', 'application/json']);
const ACTION_TYPES: readonly string[] = Object.freeze(['application/json']);
/** An action that takes no body (DELETE). */
const NO_TYPES: readonly string[] = Object.freeze([]);

/** The URI segment of a to-many relation: `orders` → `orders`, `placedOrders` → `placed-orders`. */
export function relationSegment(relation: string): string {
  return relation.replace(/_/g, '-').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export interface LinkContext {
  readonly api: ApiModel;
  readonly principal: Principal;
  readonly baseUrl: string;
  /** `/v1` — the version the caller addressed. */
  readonly prefix: string;
  /** The URI segment of a to-many relation (`placedOrders` → `placed-orders`). */
  readonly segment: (relation: string) => string;
}

/**
 * Whether a rule lets the principal act on this row. Owner rules become a condition on a
 * top-level field, checked here against the row; anything the row cannot settle counts as
 * allowed (the service enforces the rule anyway when the link is followed).
 */
export function mayAct(resource: ResourceModel, operation: Operation, principal: Principal, row: Row | null): boolean {
  const decision = evaluateRule(resource.access[operation], principal, resource.name, resource, operation);
  return decision.allowed && (row === null || rowMeets(decision.condition, row, true));
}

export function itemLinks(context: LinkContext, resource: ResourceModel, row: Row, level: LinkLevel): ItemLink[] {
  const { api, principal, baseUrl, prefix } = context;
  const self = itemHref(baseUrl, prefix, resource.name, row.id as Key);
  const links: ItemLink[] = [{ rel: 'self', href: self, action: 'GET', types: READ_TYPES }];
  if (level === 'self') return links;
  const mayUpdate = mayAct(resource, 'update', principal, row);
  if (mayUpdate) {
    links.push({ rel: 'self', href: self, action: 'PUT', types: REPLACE_TYPES });
    links.push({ rel: 'self', href: self, action: 'PATCH', types: PATCH_TYPES });
  }
  if (mayAct(resource, 'delete', principal, row)) links.push({ rel: 'self', href: self, action: 'DELETE', types: NO_TYPES });

  // Open transitions from the current state (SPEC §4.8), for a caller who may change the item.
  const state = resource.stateField;
  if (mayUpdate && state?.transitions) {
    const current = row[state.name];
    for (const next of state.transitions[String(current)] ?? []) {
      links.push({ rel: `state:${next}`, href: self, action: 'PATCH', types: TRANSITION_TYPES, body: { [state.name]: next } });
    }
  }

  for (const relation of resource.relations.values()) {
    const target = api.resources.get(relation.target);
    if (!target || !mayAct(target, 'read', principal, null)) continue;
    if (relation.kind === 'one') {
      const id = row[relation.field];
      if (id === null || id === undefined) continue;
      links.push({ rel: relation.name, href: itemHref(baseUrl, prefix, target.name, id as Key), action: 'GET', types: READ_TYPES });
    } else {
      links.push({ rel: relation.name, href: `${self}/${context.segment(relation.name)}`, action: 'GET', types: COLLECTION_TYPES });
    }
  }

  for (const field of resource.blobFields) {
    const meta = row[field.name] as { contentType?: string } | null | undefined;
    const href = `${self}/${field.name}`;
    if (meta?.contentType) links.push({ rel: field.name, href, action: 'GET', types: [meta.contentType] });
    if (mayUpdate) {
      links.push({ rel: field.name, href, action: 'PUT', types: field.blob?.mediaTypes ?? NO_TYPES });
      if (meta) links.push({ rel: field.name, href, action: 'DELETE', types: NO_TYPES });
    }
  }

  for (const action of resource.actions.values()) {
    if (!evaluateRule(action.access, principal, action.name, null, 'create').allowed) continue;
    links.push({ rel: action.name, href: `${self}/${action.name}`, action: 'POST', types: ACTION_TYPES });
  }
  return links;
}
