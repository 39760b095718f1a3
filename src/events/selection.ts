/**
 * Turns what a subscriber asks for (resources, event types, item filters) and who it is
 * into selectors: the same data serves the SQL read of the log and the in-memory check of
 * live events. The resource's read rule is re-checked for the subscriber (SPEC §8): a rule
 * it fails refuses the subscription, an `owner:` rule becomes a condition on the event's
 * item, so another principal's rows never reach it.
 */
import { evaluateRule, type AccessDecision } from '../auth/rules.js';
import { CarteError, errors } from '../errors.js';
import { parseFilters } from '../query/parse-filter.js';
import type { QueryLimits } from '../query/types.js';
import type { ApiModel, ResourceModel } from '../schema/types.js';
import { and, filterCondition } from '../service/plan.js';
import type { EventSelector, StoredEvent } from '../store/store.js';
import { matchesCondition } from './match.js';
import { eventTypesOf } from './recorder.js';
import type { EventQuery } from './types.js';

export class EventSelection {
  private readonly byResource: ReadonlyMap<string, EventSelector>;

  constructor(readonly selectors: readonly EventSelector[]) {
    this.byResource = new Map(selectors.map((s) => [s.resource, s]));
  }

  /** The resources whose events may match. */
  get resources(): string[] {
    return [...this.byResource.keys()];
  }

  matches(event: StoredEvent): boolean {
    const selector = this.byResource.get(event.resource);
    if (!selector) return false;
    if (selector.types !== null && !selector.types.includes(event.type)) return false;
    return matchesCondition(selector.where, event.item);
  }
}

function resourceOf(api: ApiModel, name: string): ResourceModel {
  const resource = api.resources.get(name);
  if (!resource) {
    throw errors.invalidRequest(`There is no resource '${name.slice(0, 100)}'; events come from ${[...api.resources.keys()].join(', ')}.`);
  }
  return resource;
}

export function selectEvents(api: ApiModel, query: EventQuery, limits: QueryLimits): EventSelection {
  // Each name once, however often it is repeated (a hostile list stays as short as the model).
  const named = query.resource === undefined ? null : [...new Set(typeof query.resource === 'string' ? [query.resource] : query.resource)].filter((n) => n !== '');
  const explicit = named !== null && named.length > 0;
  for (const name of named ?? []) resourceOf(api, name);

  // Types name their resource: `orders.ready` is an event of orders.
  const typesByResource = new Map<string, string[]>();
  for (const type of new Set(query.types ?? [])) {
    const dot = type.indexOf('.');
    const resource = resourceOf(api, dot === -1 ? type : type.slice(0, dot));
    const known = eventTypesOf(resource);
    if (!known.includes(type)) {
      throw errors.invalidRequest(`There is no event type '${type.slice(0, 100)}'; ${resource.name} emits ${known.join(', ')}.`);
    }
    if (explicit && !named.includes(resource.name)) {
      throw errors.invalidRequest(`The event type '${type}' is not an event of ${named.join(', ')}.`);
    }
    typesByResource.set(resource.name, [...(typesByResource.get(resource.name) ?? []), type]);
  }
  const names = explicit ? named : typesByResource.size > 0 ? [...typesByResource.keys()] : [...api.resources.keys()];

  const filters = query.filter ?? [];
  if (filters.length > 0 && names.length !== 1) {
    throw errors.invalidRequest('Filters on items apply to one resource: name it (resource=orders).');
  }
  const filterWhere = filters.length > 0 ? and(...parseFilters(resourceOf(api, names[0] as string), filters, limits).map(filterCondition)) : null;

  const selectors: EventSelector[] = [];
  let denied: CarteError | null = null;
  for (const name of names) {
    const resource = resourceOf(api, name);
    const decision: AccessDecision = evaluateRule(resource.access.read, query.principal, resource.name, resource, 'read');
    if (!decision.allowed) {
      // A resource asked for by name answers with its rule's error; others are left out quietly.
      if (explicit || typesByResource.has(name)) throw decision.error;
      denied ??= decision.error;
      continue;
    }
    // Types and resources must both hold: a named resource none of the types belongs to selects nothing.
    const types = typesByResource.size > 0 ? (typesByResource.get(name) ?? []) : null;
    if (types !== null && types.length === 0) continue;
    const where = filterWhere ? and(filterWhere, decision.condition) : decision.condition;
    selectors.push({ resource: name, types, where });
  }
  if (selectors.length === 0 && denied) throw denied;
  return new EventSelection(selectors);
}
