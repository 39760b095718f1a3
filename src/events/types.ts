/**
 * What the events room gives every front end (REST polling and SSE, WebSockets, later
 * GraphQL subscriptions and webhooks): the event as clients see it, and the one
 * subscription API they all build on.
 */
import type { Principal } from '../auth/principal.js';
import type { RawFilter } from '../query/types.js';
import type { Row } from '../store/store.js';

/** SPEC §7: `{id, type, resource, resourceId, occurredAt, data: {…item…, changes}}`. */
export interface CarteEvent {
  /** The event's opaque cursor (`evt_…`): pass it back as `after` or `Last-Event-ID`. */
  readonly id: string;
  /** `orders.created`, `orders.updated`, `orders.deleted`, or `orders.<state>` (`orders.ready`). */
  readonly type: string;
  readonly resource: string;
  readonly resourceId: string;
  readonly occurredAt: string;
  /** The item as a GET shows it (as it was, for a deletion), with the fields the change touched. */
  readonly data: Row & { readonly changes: readonly string[] };
}

/** Which events a subscriber wants; every option narrows. */
export interface EventQuery {
  /** One resource or several; none = every resource the principal may read. */
  readonly resource?: string | readonly string[];
  /** Event types (`orders.ready`); none = every type of the resources. */
  readonly types?: readonly string[];
  /** Filters on the items, in the REST filter model (needs exactly one resource). */
  readonly filter?: readonly RawFilter[];
  /** Whose events: the resource's read rule is checked for this principal (SPEC §8). */
  readonly principal: Principal;
}

export interface SubscribeOptions extends EventQuery {
  /** Resume after this cursor: the log is replayed, then live events follow, with no gap within retention. */
  readonly after?: string;
  /** `http://host:port` the subscriber reached; hrefs in event data are built on it. */
  readonly baseUrl: string;
}

/**
 * Called once per event, in log order. During the replay of `after` a returned promise is
 * awaited before the next event (back-pressure); live events do not wait.
 */
export type EventListener = (event: CarteEvent) => void | Promise<void>;

export type Unsubscribe = () => void;

/** Counts a later issue exposes on /metrics (SPEC §11). */
export interface EventStats {
  readonly heldLongPolls: number;
  readonly openWebSockets: number;
  readonly openEventStreams: number;
  readonly subscriptions: number;
  /** Connections closed because they read too slowly. */
  readonly slowConsumersClosed: number;
}
