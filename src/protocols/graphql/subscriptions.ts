/**
 * GraphQL subscriptions fed by the events room (SPEC §6, §7): one root field per resource,
 * `ordersChanged(filter: OrderFilter, types: [String!], after: String): OrderEvent!`, each a
 * thin translation of `EventHub.subscribe` — the hub checks the resource's read rule for the
 * subscriber and applies its `owner:` condition to every event, so another principal's rows
 * never reach it; `after` resumes from an event id with no gap within retention.
 */
import { GraphQLID, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLString, type GraphQLFieldConfigMap, type GraphQLResolveInfo } from 'graphql';
import { toCarteError } from '../../errors.js';
import type { EventHub } from '../../events/hub.js';
import type { CarteEvent, Unsubscribe } from '../../events/types.js';
import type { SelectionItemInput } from '../../query/types.js';
import type { ResourceService } from '../../service/resource-service.js';
import { camel, embedKey, type GraphqlContext, type GraphqlTypes, type ResourceTypes } from './build-schema.js';
import { filterInput, itemSelection } from './selection.js';

/** What a subscription needs from the connection it runs on. */
export interface ConnectionControl {
  /** Bytes of events one subscription may hold waiting for the socket (events.bufferBytes). */
  readonly bufferBytes: number;
  /** The client reads too slowly: the connection is closed (SPEC §7: 1008). */
  slowConsumer(): void;
}

/** The context of operations run over graphql-ws: the call, and the socket's controls. */
export interface SubscriptionContext extends GraphqlContext {
  readonly connection?: ConnectionControl;
}

/** `orders` → `ordersChanged` (SPEC §6: `<resource>Changed(filter)`). */
export function subscriptionFieldName(resource: string): string {
  return `${camel(resource)}Changed`;
}

const eventSizes = new WeakMap<CarteEvent, number>();

/** An event's size as it goes out (its JSON), measured once for every subscriber. */
function sizeOf(event: CarteEvent): number {
  let size = eventSizes.get(event);
  if (size === undefined) eventSizes.set(event, (size = JSON.stringify(event).length));
  return size;
}

/**
 * The hub's callbacks as an async iterator (what graphql-js' `subscribe` consumes). A replay
 * goes at the reader's pace (the listener's promise settles when the event is taken); live
 * events wait in a queue bounded in bytes, past which the reader is too slow.
 */
export class EventStream implements AsyncIterableIterator<CarteEvent> {
  private readonly queue: { event: CarteEvent; taken: () => void }[] = [];
  private queued = 0;
  private reader: ((result: IteratorResult<CarteEvent>) => void) | null = null;
  private ended = false;
  private unsubscribe: Unsubscribe | null = null;

  constructor(
    private readonly bound: number,
    private readonly onOverflow: () => void,
  ) {}

  /** The hub's listener. */
  readonly push = (event: CarteEvent): Promise<void> | void => {
    if (this.ended) return;
    if (this.reader) {
      const read = this.reader;
      this.reader = null;
      read({ value: event, done: false });
      return;
    }
    const size = sizeOf(event);
    if (this.queued + size > this.bound) {
      this.end();
      this.onOverflow();
      return;
    }
    this.queued += size;
    return new Promise<void>((taken) => this.queue.push({ event, taken }));
  };

  /** Set once the hub has accepted the subscription; ending the stream calls it. */
  attach(unsubscribe: Unsubscribe): void {
    if (this.ended) unsubscribe();
    else this.unsubscribe = unsubscribe;
  }

  next(): Promise<IteratorResult<CarteEvent>> {
    const first = this.queue.shift();
    if (first) {
      this.queued -= sizeOf(first.event);
      first.taken();
      return Promise.resolve({ value: first.event, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.reader = resolve));
  }

  /** The client completed the subscription, or the socket closed. */
  return(): Promise<IteratorResult<CarteEvent>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<CarteEvent> {
    return this;
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const { taken } of this.queue.splice(0)) taken();
    this.queued = 0;
    const read = this.reader;
    this.reader = null;
    read?.({ value: undefined, done: true });
  }
}

/** A relation an event's item cannot show (the item is gone, or not readable now). */
function emptyRelations(selection: readonly SelectionItemInput[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of selection) {
    if (!item.as) continue;
    out[item.as] = item.query ? { items: [], first: 0, last: -1, total: 0 } : null;
  }
  return out;
}

/**
 * The item of an event: its fields as the change left them; relations asked for are read
 * through the service now (batched, with the subscriber's read rules), as of delivery.
 */
async function eventItem(service: ResourceService, types: GraphqlTypes, rt: ResourceTypes, event: CarteEvent, context: GraphqlContext, info: GraphQLResolveInfo): Promise<Record<string, unknown>> {
  const { changes: _changes, ...item } = event.data;
  const sets = info.fieldNodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : []));
  const selection = itemSelection(types, rt, sets, info);
  const related = selection.filter((s) => s.as !== undefined);
  if (related.length === 0 || event.type.endsWith('.deleted')) return { ...item, ...emptyRelations(related) };
  try {
    const current = (await service.get(context.call, rt.resource.name, item.id, { selection: related })).data as Record<string, unknown>;
    const embedded = Object.fromEntries(related.map((s) => [s.as as string, current[s.as as string] ?? null]));
    return { ...item, ...emptyRelations(related), ...embedded };
  } catch (e) {
    if (toCarteError(e).status === 404) return { ...item, ...emptyRelations(related) };
    throw e;
  }
}

/** `Subscription { restaurantsChanged(…): RestaurantEvent!, ordersChanged(…): OrderEvent!, … }` */
export function subscriptionFields(service: ResourceService, hub: EventHub): (types: GraphqlTypes) => GraphQLFieldConfigMap<unknown, GraphqlContext> {
  return (types) => {
    const fields: GraphQLFieldConfigMap<unknown, GraphqlContext> = {};
    for (const rt of types.resources.values()) {
      const r = rt.resource;
      const eventType = new GraphQLObjectType<CarteEvent, GraphqlContext>({
        name: `${rt.object.name}Event`,
        description: `A committed change of ${r.name} (SPEC §7).`,
        fields: {
          id: { type: new GraphQLNonNull(GraphQLID), description: 'The event id: pass it back as `after` to resume after this event.' },
          type: { type: new GraphQLNonNull(GraphQLString), description: `\`${r.name}.created\`, \`${r.name}.updated\`, \`${r.name}.deleted\`, or \`${r.name}.<state>\` on a state change.` },
          resource: { type: new GraphQLNonNull(GraphQLString) },
          resourceId: { type: new GraphQLNonNull(GraphQLID) },
          occurredAt: { type: new GraphQLNonNull(GraphQLString), description: 'When the change was committed (RFC 3339).' },
          changes: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(GraphQLString))), description: 'The fields the change touched.', resolve: (event) => event.data.changes },
          data: {
            type: new GraphQLNonNull(rt.object),
            description: `The ${r.singular} as the change left it (as it was, for a deletion).`,
            resolve: (event, _args, context, info) => eventItem(service, types, rt, event, context, info),
          },
        },
      });
      fields[subscriptionFieldName(r.name)] = {
        type: new GraphQLNonNull(eventType),
        description: `Changes of ${r.name} as they are committed, filtered like a list; \`after\` (an event id) replays what came after it first.`,
        args: {
          filter: { type: rt.filter },
          types: { type: new GraphQLList(new GraphQLNonNull(GraphQLString)), description: `Only these event types (e.g. \`${r.name}.created\`${r.stateField ? `, \`${r.name}.${String(r.stateField.enum?.[r.stateField.enum.length - 1] ?? 'ready')}\`` : ''}).` },
          after: { type: GraphQLString, description: 'Resume after this event id (or `now`); events older than the retention window are gone (410).' },
        },
        subscribe: async (_source, args: Record<string, unknown>, context: SubscriptionContext) => {
          const connection = context.connection;
          const stream = new EventStream(connection?.bufferBytes ?? hub.config.bufferBytes, () => connection?.slowConsumer());
          const filter = filterInput(rt, args.filter);
          const types = args.types as string[] | null | undefined;
          const after = args.after as string | null | undefined;
          try {
            stream.attach(
              await hub.subscribe(
                {
                  resource: r.name,
                  ...(types ? { types } : {}),
                  ...(filter.length > 0 ? { filter } : {}),
                  ...(after !== null && after !== undefined ? { after } : {}),
                  principal: context.call.principal,
                  baseUrl: context.call.baseUrl,
                },
                stream.push,
              ),
            );
          } catch (e) {
            // graphql-js reports it as the subscription's error, mapped like any other (extensions.code).
            throw toCarteError(e);
          }
          return stream;
        },
        resolve: (event: unknown) => event,
      };
    }
    return fields;
  };
}
