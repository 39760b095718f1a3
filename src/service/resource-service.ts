/**
 * The resource service: the ONLY entry point of every protocol (SPEC §3). List, get,
 * create, replace, update, delete, bulk, search and actions live here once, with
 * validation, access rules, referential integrity, state transitions and errors.
 */
import { randomUUID } from 'node:crypto';
import type { Ajv2020 } from 'ajv/dist/2020.js';
import { evaluateRule, rowMeets, type Operation } from '../auth/rules.js';
import { principalKey } from '../auth/principal.js';
import { CarteError, errors, type FieldError } from '../errors.js';
import { encodeCursor } from '../query/cursor.js';
import { parseListQuery, parseSelection } from '../query/parse.js';
import { acceptRange, parseRange } from '../query/parse-range.js';
import { parseFilters } from '../query/parse-filter.js';
import { foldText } from '../query/text.js';
import { DEFAULT_QUERY_LIMITS, type FieldSelection, type ListQuery, type QueryInput, type QueryLimits, type RawFilter, type SelectionItemInput } from '../query/types.js';
import type { ActionModel, ApiModel, FieldModel, Json, JsonObject, ResourceModel } from '../schema/types.js';
import { StoreConflictError, StoreValueError, type Condition, type Key, type MaybePromise, type Row, type Store, type StoreReader, type StoreWriter } from '../store/store.js';
import { BlobInterruptedError, BlobMissingError, BlobTooLargeError, type BlobStore } from '../store/blob-store.js';
import { acceptsMediaType, blobContent, isBlobMeta, mediaTypeOf, orphanedBlobs, type BlobContent, type BlobMeta, type BlobUpload } from './blobs.js';
import { DEFAULT_IDEMPOTENCY, fingerprintOf, IdempotencyKeys, parseIdempotencyKey, type IdempotencyOptions, type IdempotencyScope } from './idempotency.js';
import { itemLinks, relationSegment, type ItemLink, type LinkLevel } from './links.js';
import { VersionMapper } from './versions.js';
import { and, fieldColumn, filterCondition, keyColumn, orderValues, queryCondition, readPlan } from './plan.js';
import { embedsRelations, itemHref, Presenter, sameMembers, textTag, versionTag, type PresentOptions } from './present.js';
import type { CallContext, GlobalSearchResult, ItemResult, ListResult, ParentScope, SearchResult, WriteOptions } from './types.js';
import { BodyValidator, createAjv, SchemaValidator } from './validate.js';
import { WriteTx, type Change, type ChangeRecorder } from './changes.js';

export interface ServiceOptions {
  readonly limits?: Partial<QueryLimits> & { readonly bulkItems?: number; readonly globalSearchMaxRange?: number };
  /** `Idempotency-Key` retention and waiting (SPEC §4.7). */
  readonly idempotency?: IdempotencyOptions;
  /** Where blob bytes live (SPEC §4.9); without one, blob operations answer 501. */
  readonly blobs?: BlobStore;
}

/** Where a request is scoped under a parent (`/v1/clients/7/orders`): the condition, and the field it sets. */
interface ParentCondition {
  readonly condition: Condition;
  readonly field: string | null;
  readonly value: Key | null;
}

/** Not under a parent: no condition. */
const NO_PARENT: ParentCondition = { condition: { kind: 'true' }, field: null, value: null };

interface ActionRuntime {
  readonly model: ActionModel;
  readonly input: SchemaValidator | null;
  readonly output: SchemaValidator | null;
}

export class ResourceService {
  readonly api: ApiModel;
  readonly prefix: string;
  private readonly validators = new Map<string, BodyValidator>();
  private readonly actions = new Map<string, ActionRuntime>();
  private readonly presenter: Presenter;
  private readonly limits: QueryLimits;
  private readonly bulkItems: number;
  private readonly globalMaxRange: number;
  private readonly ajv: Ajv2020 = createAjv();
  private readonly recorders: ChangeRecorder[] = [];
  /** The previous major version's mapping (SPEC §4.10). */
  readonly versions: VersionMapper;
  readonly idempotency: IdempotencyKeys;
  private readonly blobs: BlobStore | null;

  constructor(
    api: ApiModel,
    readonly store: Store,
    options: ServiceOptions = {},
  ) {
    this.api = api;
    this.prefix = `/v${api.version}`;
    this.limits = { ...DEFAULT_QUERY_LIMITS, ...options.limits };
    this.bulkItems = options.limits?.bulkItems ?? 1000;
    this.globalMaxRange = options.limits?.globalSearchMaxRange ?? 50;
    for (const resource of api.resources.values()) {
      this.validators.set(resource.name, new BodyValidator(this.ajv, resource));
      for (const action of resource.actions.values()) this.registerAction(action);
    }
    for (const action of api.actions.values()) this.registerAction(action);
    this.presenter = new Presenter(api, () => ({ kind: 'true' }));
    this.versions = new VersionMapper(api, this.limits);
    this.idempotency = new IdempotencyKeys(store, options.idempotency ?? DEFAULT_IDEMPOTENCY);
    this.blobs = options.blobs ?? null;
  }

  /** `/v1` — the path prefix of the version the caller addressed (hrefs in bodies use it). */
  prefixOf(ctx: CallContext): string {
    return this.versions.prefix(ctx.apiVersion);
  }

  /** Hypermedia links of a stored row for this caller (SPEC §4.8). */
  private linksOf(ctx: CallContext, resource: ResourceModel, row: Row, level: LinkLevel): ItemLink[] {
    return itemLinks({ api: this.api, principal: ctx.principal, baseUrl: ctx.baseUrl, prefix: this.prefixOf(ctx), segment: relationSegment }, resource, row, level);
  }

  private registerAction(model: ActionModel): void {
    this.actions.set(model.rpcName, {
      model,
      input: model.spec.input ? new SchemaValidator(this.ajv, model.spec.input) : null,
      output: model.spec.output ? new SchemaValidator(this.ajv, model.spec.output) : null,
    });
  }

  // -------------------------------------------------------------------------------------
  // Lookups

  resource(name: string): ResourceModel {
    const resource = this.api.resources.get(name);
    if (!resource) throw errors.noRoute('GET', `${this.prefix}/${name}`);
    return resource;
  }

  /** Parses a key from a path or a parameter; a malformed key is simply not found. */
  parseKey(resource: ResourceModel, raw: unknown): Key | null {
    if (resource.key.type === 'integer') {
      if (typeof raw === 'number') return Number.isSafeInteger(raw) && raw > 0 ? raw : null;
      if (typeof raw === 'string' && /^[1-9]\d{0,15}$/.test(raw)) {
        const n = Number(raw);
        return Number.isSafeInteger(n) ? n : null;
      }
      return null;
    }
    if (typeof raw === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(raw)) return raw.toLowerCase();
    return null;
  }

  private requireKey(resource: ResourceModel, raw: unknown): Key {
    const key = this.parseKey(resource, raw);
    if (key === null) throw errors.notFound(resource.singular, raw);
    return key;
  }

  // -------------------------------------------------------------------------------------
  // Access

  private access(ctx: CallContext, resource: ResourceModel, operation: Operation) {
    const decision = evaluateRule(resource.access[operation], ctx.principal, resource.name, resource, operation);
    if (!decision.allowed) throw decision.error;
    return decision;
  }

  /**
   * Whether the caller may perform an operation — on a given row when there is one (owner
   * rules). For the places that hold rows rather than run queries: events, webhooks, links.
   * Never throws.
   */
  can(ctx: CallContext, resourceName: string, operation: Operation, row?: Readonly<Record<string, unknown>>): boolean {
    const resource = this.api.resources.get(resourceName);
    if (!resource) return false;
    const decision = evaluateRule(resource.access[operation], ctx.principal, resource.name, resource, operation);
    if (!decision.allowed) return false;
    if (row === undefined) return true;
    // Changing a row also needs reading it (SPEC §8: what you cannot see does not exist).
    if (operation !== 'read' && !this.can(ctx, resourceName, 'read', row)) return false;
    return rowMeets(decision.condition, row);
  }

  /** Rows the caller may read: the read rule as a condition, or an error. */
  private readCondition(ctx: CallContext, resource: ResourceModel): Condition {
    return this.access(ctx, resource, 'read').condition;
  }

  private presenterFor(ctx: CallContext): Presenter {
    return new Presenter(this.api, (resource) => {
      const d = evaluateRule(resource.access.read, ctx.principal, resource.name, resource, 'read');
      return d.allowed ? d.condition : { kind: 'false' };
    });
  }

  /** `/v1/clients/7/orders`: the parent must exist (and be readable); children are filtered to it. */
  private async parentCondition(ctx: CallContext, reader: StoreReader, resource: ResourceModel, parent: ParentScope | undefined): Promise<ParentCondition> {
    if (!parent) return NO_PARENT;
    const parentModel = this.resource(parent.resource);
    const relation = parentModel.relations.get(parent.relation);
    if (!relation || relation.kind !== 'many' || relation.target !== resource.name) throw errors.noRoute('GET', `${this.prefix}/${parent.resource}/${parent.id}/${resource.name}`);
    const key = this.requireKey(parentModel, parent.id);
    const visible = and({ kind: 'in', column: keyColumn(parentModel), values: [key] }, this.readCondition(ctx, parentModel));
    if ((await reader.count(parentModel.name, visible)) === 0) throw errors.notFound(parentModel.singular, parent.id);
    return { condition: { kind: 'in', column: fieldColumn(resource, relation.field), values: [key] }, field: relation.field, value: key };
  }

  // -------------------------------------------------------------------------------------
  // Reads

  parseQuery(resource: ResourceModel, input: QueryInput, search = false): ListQuery {
    return parseListQuery(this.api, resource, input, { search, limits: this.limits });
  }

  async list(ctx: CallContext, resourceName: string, input: QueryInput, parent?: ParentScope): Promise<ListResult> {
    const resource = this.resource(resourceName);
    const query = this.parseQuery(resource, this.versions.query(resource, input, ctx.apiVersion));
    const access = this.readCondition(ctx, resource);
    const scope = parent ? await this.parentCondition(ctx, this.store, resource, parent) : NO_PARENT;
    return this.runList(ctx, resource, query, and(queryCondition(query), access, scope.condition), resource.singular);
  }

  private async runList(ctx: CallContext, resource: ResourceModel, query: ListQuery, where: Condition, unit: string): Promise<ListResult> {
    const plan = readPlan(resource, query, where);
    // One row more than asked tells whether another page follows, whatever the count mode.
    const result = await this.store.read({ ...plan, limit: plan.limit + 1 });
    const more = result.rows.length > plan.limit;
    if (more) result.rows.pop();
    if (result.rows.length === 0 && plan.offset > 0) {
      // SPEC §4.3: a start beyond the end of a non-empty collection is 416.
      const total = result.total ?? (await this.store.count(resource.name, where));
      if (total > 0) {
        throw errors.rangeNotSatisfiable(`The ${resource.name} collection has ${total} item${total === 1 ? '' : 's'}; the range starts at ${plan.offset}`, {
          'Content-Range': `*/${total}`,
          'Accept-Range': acceptRange(unit, resource.maxRange),
        });
      }
    }
    const presented = await this.presenterFor(ctx).present(this.store, resource, result.rows, query.fields, { baseUrl: ctx.baseUrl, prefix: this.prefixOf(ctx) });
    const items = presented.map((item) => this.versions.outgoing(resource, item, ctx.apiVersion));
    // SPEC §4.8: collection items carry only `self` unless `fields` asks for `links`.
    const level: LinkLevel | null = !query.fields ? 'self' : query.fields.links ? 'full' : null;
    const links = level ? result.rows.map((row) => this.linksOf(ctx, resource, row, level)) : undefined;
    const first = plan.after ? 0 : plan.offset;
    const lastRow = result.rows[result.rows.length - 1];
    return {
      items,
      first,
      last: first + result.rows.length - 1,
      total: result.total,
      count: query.count,
      estimated: result.estimated,
      nextCursor: lastRow && more ? encodeCursor(query.sort, orderValues(lastRow, query.sort)) : null,
      limit: plan.limit,
      cursorPage: plan.after !== null,
      acceptRange: acceptRange(unit, resource.maxRange),
      ...(links ? { links } : {}),
      columns: this.versions.fieldNames(resource, ctx.apiVersion),
    };
  }

  /**
   * One item. Reads are the hot path: when nothing has to be waited for (no parent to check, a
   * store that answers at once as SQLite does, no row-level condition, no relation to embed),
   * the item is made and returned without a promise; each `await` costs a microtask and a
   * resumed frame. Errors are always a rejected promise, never thrown.
   */
  get(ctx: CallContext, resourceName: string, rawId: unknown, options: { fields?: string; selection?: readonly SelectionItemInput[]; parent?: ParentScope } = {}): MaybePromise<ItemResult> {
    try {
      const resource = this.resource(resourceName);
      const selection = this.selectionOf(ctx, resource, options);
      const access = this.readCondition(ctx, resource);
      if (options.parent) return this.getInScope(ctx, resource, rawId, selection, access, options.parent);
      const row = this.store.get(resource.name, this.requireKey(resource, rawId));
      return row instanceof Promise ? row.then((found) => this.itemOf(ctx, resource, rawId, found, access, selection)) : this.itemOf(ctx, resource, rawId, row, access, selection);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** An item under a parent (`/v1/restaurants/1/reviews/7`): the parent is checked first. */
  private async getInScope(ctx: CallContext, resource: ResourceModel, rawId: unknown, selection: FieldSelection | null, access: Condition, parent: ParentScope): Promise<ItemResult> {
    const scope = await this.parentCondition(ctx, this.store, resource, parent);
    const row = await this.store.get(resource.name, this.requireKey(resource, rawId));
    return this.itemOf(ctx, resource, rawId, row, and(access, scope.condition), selection);
  }

  /** The item a read found, shaped for the caller; none, or one the caller may not see, is a 404. */
  private itemOf(ctx: CallContext, resource: ResourceModel, rawId: unknown, row: Row | undefined, condition: Condition, selection: FieldSelection | null): MaybePromise<ItemResult> {
    if (!row) throw errors.notFound(resource.singular, rawId);
    if (condition.kind !== 'true') {
      return this.visible(this.store, resource, row, condition).then((seen) => {
        if (!seen) throw errors.notFound(resource.singular, rawId);
        return this.itemOf(ctx, resource, rawId, row, NO_PARENT.condition, selection); // seen: no condition is left
      });
    }
    // SPEC §4.8: links unless `fields` leaves them out.
    return this.presentedItem(ctx, resource, row, selection, !selection || selection.links);
  }

  /** A row as the caller's item: presented, in the caller's version, with its links when asked; at once unless relations are embedded. */
  private presentedItem(ctx: CallContext, resource: ResourceModel, row: Row, selection: FieldSelection | null, withLinks: boolean, replayed = false): MaybePromise<ItemResult> {
    const data = this.presentItem(ctx, resource, row, selection);
    const links = withLinks ? this.linksOf(ctx, resource, row, 'full') : undefined;
    if (data instanceof Promise) return data.then((shaped) => this.itemResult(resource, row, this.versions.outgoing(resource, shaped, ctx.apiVersion), links, replayed));
    return this.itemResult(resource, row, this.versions.outgoing(resource, data, ctx.apiVersion), links, replayed);
  }

  /** Whether a fetched row meets a condition (owner rules, nested scope), without another query when trivially true. */
  private async visible(reader: StoreReader, resource: ResourceModel, row: Row, condition: Condition): Promise<boolean> {
    if (condition.kind === 'true') return true;
    if (condition.kind === 'false') return false;
    return (await reader.count(resource.name, and({ kind: 'in', column: keyColumn(resource), values: [row.id as Key] }, condition))) > 0;
  }

  /**
   * One row as the caller sees it. Embedding related items queries the store under the caller's
   * read rules; without relations to embed (most reads) the row is shaped at once: no presenter
   * built, no promise.
   */
  private presentItem(ctx: CallContext, resource: ResourceModel, row: Row, selection: FieldSelection | null): Row | Promise<Row> {
    const options: PresentOptions = { baseUrl: ctx.baseUrl, prefix: this.prefixOf(ctx) };
    if (!embedsRelations(selection)) return this.presenter.shape(resource, row, selection, options);
    return this.presenterFor(ctx)
      .present(this.store, resource, [row], selection, options)
      .then(([data]) => data as Row);
  }

  /** An item's result, always of one shape (absent members are undefined): a read's hot path stays monomorphic. */
  private itemResult(resource: ResourceModel, row: Row, data: Row, links: readonly ItemLink[] | undefined, replayed = false): ItemResult {
    const updatedAt = resource.timestamps.updatedAt ? row[resource.timestamps.updatedAt] : null;
    // The ETag digests the stored row's text; when the item is presented as stored, that text is its body too.
    const text = JSON.stringify(row);
    return {
      id: row.id as Key,
      data,
      etag: textTag(text),
      json: sameMembers(row, data) ? text : undefined,
      lastModified: typeof updatedAt === 'string' ? new Date(updatedAt) : null,
      links,
      replayed,
    };
  }

  /** A `fields` notation or structured selection, in the caller's API version, checked (400 on unknown names). */
  private selectionOf(ctx: CallContext, resource: ResourceModel, options: { fields?: string; selection?: readonly SelectionItemInput[] }): FieldSelection | null {
    if (!options.fields && options.selection === undefined) return null;
    const input = { ...(options.fields ? { fields: options.fields } : {}), ...(options.selection ? { selection: options.selection } : {}) };
    // Only the selection: not a whole list query (filters, sort and range with their defaults) per read.
    return parseSelection(this.api, resource, this.versions.query(resource, input, ctx.apiVersion), this.limits);
  }

  /**
   * Present one written row the way a GET would: without `fields`, or with the write's
   * selection (relations embedded in batches); a deleted row carries no links.
   */
  private async written(ctx: CallContext, resource: ResourceModel, row: Row, options: { selection?: FieldSelection | null; links?: boolean; replayed?: boolean } = {}): Promise<ItemResult> {
    const selection = options.selection ?? null;
    return this.presentedItem(ctx, resource, row, selection, options.links !== false && (!selection || selection.links), options.replayed);
  }

  // -------------------------------------------------------------------------------------
  // Search (SPEC §4.6)

  async search(ctx: CallContext, resourceName: string, input: QueryInput): Promise<SearchResult> {
    const resource = this.resource(resourceName);
    if (resource.searchFields.length === 0) throw errors.noRoute('GET', `${this.prefix}/${resource.name}/search`);
    const query = this.parseQuery(resource, this.versions.query(resource, input, ctx.apiVersion), true);
    const access = this.readCondition(ctx, resource);
    const list = await this.runList(ctx, resource, query, and(queryCondition(query), access), 'search');
    // The dictionary spans every row: under an owner rule it would leak the words of others' rows.
    const suggestions = access.kind === 'true' ? await this.suggestions(resource, query, list.items.length === 0) : [];
    return { ...list, query: describeQuery(input.filters ?? []), suggestions };
  }

  /** SPEC §4.6: up to 5 indexed words completing or close to the patterns' words, most frequent first. */
  private async suggestions(resource: ResourceModel, query: ListQuery, nothingFound: boolean): Promise<string[]> {
    const words = new Set<string>();
    for (const p of query.patterns) for (const pattern of p.patterns) for (const w of foldText(pattern).split(/[^\p{L}\p{N}]+/u)) if (w.length >= 2) words.add(w);
    const found = new Map<string, number>();
    for (const word of [...words].slice(0, 5)) {
      for (const s of await this.store.suggest(resource.name, word, 5, nothingFound)) found.set(s.word, Math.max(found.get(s.word) ?? 0, s.count));
    }
    return [...found].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 5).map(([w]) => w);
  }

  /** `GET /v1/search?q=`: every word must match; ranked across resources the caller may read. */
  async searchAll(ctx: CallContext, q: string, input: Pick<QueryInput, 'range' | 'limit' | 'offset'>): Promise<GlobalSearchResult> {
    const words = q.split(/\s+/).filter(Boolean);
    if (words.length === 0) throw errors.invalidRequest('q is required: the words to search for.');
    if (q.length > this.limits.valueLength) throw errors.invalidRequest(`q is longer than ${this.limits.valueLength} characters.`);
    const pseudo = { maxRange: this.globalMaxRange, singular: 'search' } as ResourceModel;
    const page = parseRange(pseudo, input, [], 'search');
    if (page.kind !== 'offset') throw errors.invalidRequest('Global search pages by range or limit/offset.');
    const targets = [...this.api.resources.values()]
      .filter((r) => r.searchFields.length > 0)
      .flatMap((r) => {
        const d = evaluateRule(r.access.read, ctx.principal, r.name, r, 'read');
        return d.allowed ? [{ resource: r.name, where: d.condition }] : [];
      });
    const { hits, total } = await this.store.searchWords(targets, words, page.offset, page.limit);
    const byResource = new Map<string, Key[]>();
    for (const h of hits) byResource.set(h.resource, [...(byResource.get(h.resource) ?? []), h.id]);
    const items = new Map<string, Row>();
    for (const [name, ids] of byResource) {
      const resource = this.resource(name);
      const result = await this.store.read({
        resource: name,
        where: { kind: 'in', column: keyColumn(resource), values: ids },
        order: [{ column: keyColumn(resource), descending: false }],
        offset: 0,
        limit: ids.length,
        after: null,
        count: 'none',
      });
      for (const row of result.rows) {
        const shaped = this.presenter.shape(resource, row, null, { baseUrl: ctx.baseUrl, prefix: this.prefixOf(ctx) });
        items.set(`${name}/${String(row.id)}`, this.versions.outgoing(resource, shaped, ctx.apiVersion));
      }
    }
    const results = hits
      .filter((h) => items.has(`${h.resource}/${String(h.id)}`))
      .map((h) => ({ resource: h.resource, id: h.id, href: itemHref(ctx.baseUrl, this.prefixOf(ctx), h.resource, h.id), score: h.score, item: items.get(`${h.resource}/${String(h.id)}`) as Row }));
    return { results, first: page.offset, last: page.offset + results.length - 1, total, limit: page.limit, acceptRange: acceptRange('search', this.globalMaxRange) };
  }

  // -------------------------------------------------------------------------------------
  // Writes

  async create(ctx: CallContext, resourceName: string, body: unknown, options: WriteOptions = {}): Promise<ItemResult> {
    const resource = this.resource(resourceName);
    const decision = this.access(ctx, resource, 'create');
    const selection = this.selectionOf(ctx, resource, options);
    const validator = this.validator(resource);
    const object = validator.asObject(this.versions.incoming(resource, body, ctx.apiVersion, 'create'));
    if ('id' in object) {
      throw errors.invalidItem(resource.singular, [
        { field: 'id', error: 'readOnly', error_description: `The id of a ${resource.singular} is assigned by the server; to choose it, PUT ${this.prefixOf(ctx)}/${resource.name}/{id}` },
      ]);
    }
    const once: IdempotencyScope | null = options.idempotencyKey === undefined ? null : {
      scope: principalKey(ctx.principal),
      key: parseIdempotencyKey(options.idempotencyKey),
      fingerprint: fingerprintOf({ operation: 'create', resource: resource.name, parent: options.parent ?? null, version: this.versions.versionOf(ctx.apiVersion), body }),
    };
    const outcome = await this.write(ctx, async (tx) => {
      // SPEC §4.7: the key is claimed and completed in the row's own transaction — a duplicate
      // waits for this commit and replays it; a crash leaves neither the row nor the key.
      if (once) {
        const prior = await this.idempotency.claim(tx, once);
        if (prior) return { row: (prior.response as { row: Row }).row, replayed: true };
      }
      const scope = await this.parentCondition(ctx, tx, resource, options.parent);
      const values = this.prepareCreate(resource, object, scope, decision.owner);
      const row = await this.insertChecked(tx, resource, values, null);
      if (once) await this.idempotency.complete(tx, once, { resource: resource.name, row });
      return { row, replayed: false };
    });
    return this.written(ctx, resource, outcome.row, { selection, replayed: outcome.replayed });
  }

  private validator(resource: ResourceModel): BodyValidator {
    return this.validators.get(resource.name) as BodyValidator;
  }

  private prepareCreate(resource: ResourceModel, object: Record<string, unknown>, scope: { field: string | null; value: Key | null }, owner: { field: string; value: string | number } | null, prefix = ''): Row {
    const problems: FieldError[] = [];
    const body = { ...object };
    if (scope.field !== null) {
      const given = body[scope.field];
      if (given !== undefined && given !== null && given !== scope.value) {
        problems.push({ field: join(prefix, scope.field), error: 'parent', error_description: `'${scope.field}' must be ${String(scope.value)} under this path` });
      }
      body[scope.field] = scope.value;
    }
    if (owner) this.checkOwner(resource, body, owner, prefix);
    const { values, problems: more } = this.validator(resource).prepareWrite(body, prefix);
    problems.push(...more);
    if (problems.length > 0) throw errors.invalidItem(resource.singular, problems);
    return values;
  }

  /** `owner:<field>`: the owner is the caller; a body naming someone else is refused. */
  private checkOwner(resource: ResourceModel, body: Record<string, unknown>, owner: { field: string; value: string | number }, prefix = ''): void {
    const given = body[owner.field];
    if (given !== undefined && given !== null && given !== owner.value) {
      throw new CarteError('not_allowed', `You can only write ${resource.name} whose ${owner.field} is you`, {
        errors: [{ field: join(prefix, owner.field), error: 'owner', error_description: `'${owner.field}' must be your own subject` }],
      });
    }
    body[owner.field] = owner.value;
  }

  /** Insert after the checks the database cannot phrase well: references, initial state, unique keys. */
  private async insertChecked(tx: WriteTx, resource: ResourceModel, values: Row, id: Key | null, prefix = ''): Promise<Row> {
    await this.checkReferences(tx, resource, values, prefix);
    this.checkInitialState(resource, values);
    const now = new Date().toISOString();
    // A create never carries them (read-only, dropped); an import may keep the exported ones.
    if (resource.timestamps.createdAt) values[resource.timestamps.createdAt] ??= now;
    if (resource.timestamps.updatedAt) values[resource.timestamps.updatedAt] ??= now;
    values.id = id ?? (resource.key.type === 'uuid' ? randomUUID() : null);
    const row = await this.guardConflict(resource, () => tx.insert(resource.name, values));
    await this.record(tx, { type: 'created', resource: resource.name, id: row.id as Key, before: null, after: row, fields: resource.fieldList.map((f) => f.name) });
    return row;
  }

  private async guardConflict<T>(resource: ResourceModel, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof StoreConflictError) {
        if (e.message === 'unique') {
          const fields = e.fields.filter((f) => f !== 'id');
          throw errors.conflict(
            fields.length ? `Another ${resource.singular} already has this ${fields.join(', ')}` : `A ${resource.singular} with this id already exists`,
            { fields: fields.length ? fields : ['id'] },
          );
        }
        throw errors.conflict(`The ${resource.singular} refers to, or is referred to by, an item that does not allow this change`);
      }
      if (e instanceof StoreValueError) throw errors.invalidItem(resource.singular, [{ field: e.field, error: 'value', error_description: `'${e.field}' ${e.reason}` }]);
      throw e;
    }
  }

  /** A reference must point to an item the caller may read: another principal's row does not exist for it (SPEC §8). */
  private async checkReferences(tx: WriteTx, resource: ResourceModel, values: Row, prefix = ''): Promise<void> {
    const problems: FieldError[] = [];
    for (const field of resource.fieldList) {
      const ref = field.reference;
      const value = values[field.name];
      if (!ref || value === null || value === undefined) continue;
      const target = this.resource(ref.resource);
      const read = evaluateRule(target.access.read, tx.ctx.principal, target.name, target, 'read');
      const condition = read.allowed ? read.condition : ({ kind: 'true' } as Condition);
      const exists =
        condition.kind === 'true'
          ? (await tx.get(target.name, value as Key)) !== undefined
          : (await tx.count(target.name, and({ kind: 'in', column: keyColumn(target), values: [value as Key] }, condition))) > 0;
      if (!exists) {
        problems.push({ field: join(prefix, field.name), error: 'reference', error_description: `There is no ${target.singular} with the id '${String(value)}'` });
      }
    }
    if (problems.length > 0) throw errors.invalidItem(resource.singular, problems);
  }

  /** A new item of a state machine starts in an initial state (one no transition leads to). */
  private checkInitialState(resource: ResourceModel, values: Row): void {
    const field = resource.stateField;
    if (!field?.transitions) return;
    const targets = new Set(Object.values(field.transitions).flat());
    const initial = (field.enum ?? []).filter((s) => !targets.has(String(s))).map(String);
    const state = values[field.name];
    if (state !== null && state !== undefined && initial.length > 0 && !initial.includes(String(state))) {
      throw new CarteError('invalid_transition', `A new ${resource.singular} starts in ${initial.map((s) => `'${s}'`).join(' or ')}, not '${String(state)}'`, { extra: { allowed: initial } });
    }
  }

  private checkTransition(resource: ResourceModel, before: Row, after: Row): void {
    const field = resource.stateField;
    if (!field?.transitions) return;
    const from = before[field.name];
    const to = after[field.name];
    if (from === to || from === null || from === undefined) return;
    const allowed = field.transitions[String(from)] ?? [];
    if (!allowed.includes(String(to))) throw errors.invalidTransition(field.name, String(from), String(to), allowed);
  }

  private checkIfMatch(resource: ResourceModel, current: Row | undefined, ifMatch: readonly string[] | undefined): void {
    if (ifMatch === undefined) {
      if (resource.requireIfMatch && current) throw errors.preconditionRequired(resource.singular);
      return;
    }
    if (ifMatch.includes('*')) {
      if (!current) throw errors.preconditionFailed(`The ${resource.singular} does not exist, and If-Match: * requires that it does`);
      return;
    }
    // RFC 9110 §13.1.1: If-Match uses the strong comparison; a weak tag never matches.
    if (!current || !ifMatch.includes(versionTag(current))) throw errors.preconditionFailed();
  }

  /** PUT on an item: replace it, or create it with that id (201). */
  async replace(ctx: CallContext, resourceName: string, rawId: unknown, body: unknown, options: WriteOptions = {}): Promise<{ result: ItemResult; created: boolean }> {
    const resource = this.resource(resourceName);
    const selection = this.selectionOf(ctx, resource, options);
    const validator = this.validator(resource);
    const object = validator.asObject(this.versions.incoming(resource, body, ctx.apiVersion, 'replace'));
    const id = this.parseKey(resource, rawId);
    if (id === null) {
      throw errors.invalidItem(resource.singular, [
        { field: 'id', error: 'format', error_description: resource.key.type === 'uuid' ? 'The id must be a UUID' : 'The id must be a positive integer' },
      ]);
    }
    const outcome = await this.write(ctx, async (tx) => {
      const scope = await this.parentCondition(ctx, tx, resource, options.parent);
      return this.replaceOne(ctx, tx, resource, id, object, options.ifMatch, scope);
    });
    return { result: await this.written(ctx, resource, outcome.row, { selection }), created: outcome.created };
  }

  private async replaceOne(
    ctx: CallContext,
    tx: WriteTx,
    resource: ResourceModel,
    id: Key,
    object: Record<string, unknown>,
    ifMatch: readonly string[] | undefined,
    scope: { condition: Condition; field: string | null; value: Key | null },
    prefix = '',
  ): Promise<{ row: Row; created: boolean }> {
    if ('id' in object && object.id !== id && String(object.id) !== String(id)) {
      throw errors.invalidItem(resource.singular, [{ field: join(prefix, 'id'), error: 'mismatch', error_description: `The id in the body (${String(object.id)}) differs from the id in the path (${String(id)})` }]);
    }
    const current = await tx.get(resource.name, id);
    const readable = current ? await this.canSee(ctx, tx, resource, current, scope.condition) : false;
    if (current && !readable) {
      // Someone else's row: it does not exist for this caller (SPEC §8: 404, never 403).
      throw errors.notFound(resource.singular, id);
    }
    if (!current) {
      const decision = this.access(ctx, resource, 'create');
      this.checkIfMatch(resource, undefined, ifMatch);
      const values = this.prepareCreate(resource, object, scope, decision.owner, prefix);
      return { row: await this.insertChecked(tx, resource, values, id, prefix), created: true };
    }
    const decision = this.access(ctx, resource, 'update');
    if (!(await this.visible(tx, resource, current, decision.condition))) throw notOwned(resource, decision.owner, 'change');
    this.checkIfMatch(resource, current, ifMatch);
    // SPEC §4.10: a PUT through the previous version keeps what that version cannot see.
    const visibleObject = this.versions.keepHidden(resource, object, current, ctx.apiVersion);
    const values = this.prepareCreate(resource, visibleObject, scope, decision.owner, prefix);
    return { row: await this.updateChecked(tx, resource, current, values, prefix), created: false };
  }

  private async canSee(ctx: CallContext, reader: StoreReader, resource: ResourceModel, row: Row, scope: Condition): Promise<boolean> {
    const d = evaluateRule(resource.access.read, ctx.principal, resource.name, resource, 'read');
    if (!d.allowed) throw d.error;
    return this.visible(reader, resource, row, and(d.condition, scope));
  }

  private async updateChecked(tx: WriteTx, resource: ResourceModel, current: Row, values: Row, prefix = ''): Promise<Row> {
    this.checkTransition(resource, current, values);
    const changed: Row = {};
    for (const [k, v] of Object.entries(values)) if (JSON.stringify(current[k]) !== JSON.stringify(v)) changed[k] = v;
    await this.checkReferences(tx, resource, changed, prefix);
    if (Object.keys(changed).length === 0) return current;
    if (resource.timestamps.updatedAt) changed[resource.timestamps.updatedAt] = new Date().toISOString();
    const row = await this.guardConflict(resource, () => tx.update(resource.name, current.id as Key, changed));
    if (!row) throw errors.notFound(resource.singular, current.id);
    await this.record(tx, { type: 'updated', resource: resource.name, id: row.id as Key, before: current, after: row, fields: Object.keys(changed) });
    return row;
  }

  /** PATCH: RFC 7396 merge patch onto the stored item. */
  async update(ctx: CallContext, resourceName: string, rawId: unknown, patch: unknown, options: WriteOptions = {}): Promise<ItemResult> {
    const resource = this.resource(resourceName);
    const selection = this.selectionOf(ctx, resource, options);
    const validator = this.validator(resource);
    const object = validator.asObject(this.versions.incoming(resource, patch, ctx.apiVersion, 'patch'));
    const id = this.requireKey(resource, rawId);
    const row = await this.write(ctx, async (tx) => {
      const scope = await this.parentCondition(ctx, tx, resource, options.parent);
      const current = await tx.get(resource.name, id);
      if (!current || !(await this.canSee(ctx, tx, resource, current, scope.condition))) throw errors.notFound(resource.singular, rawId);
      const decision = this.access(ctx, resource, 'update');
      if (!(await this.visible(tx, resource, current, decision.condition))) throw notOwned(resource, decision.owner, 'change');
      this.checkIfMatch(resource, current, options.ifMatch);
      if ('id' in object && String(object.id) !== String(id)) {
        throw errors.invalidItem(resource.singular, [{ field: 'id', error: 'mismatch', error_description: 'The id of an item cannot be changed' }]);
      }
      const body = { ...object };
      if (decision.owner) this.checkOwner(resource, body, decision.owner);
      if (scope.field !== null && body[scope.field] !== undefined && body[scope.field] !== scope.value) {
        throw errors.invalidItem(resource.singular, [{ field: scope.field, error: 'parent', error_description: `'${scope.field}' must be ${String(scope.value)} under this path` }]);
      }
      const { values, problems } = validator.mergePatch(current, body);
      if (problems.length > 0) throw errors.invalidItem(resource.singular, problems);
      return this.updateChecked(tx, resource, current, values);
    });
    return this.written(ctx, resource, row, { selection });
  }

  /** Deletes an item; returns it as it was (for `Prefer: return=representation`). */
  async delete(ctx: CallContext, resourceName: string, rawId: unknown, options: WriteOptions = {}): Promise<ItemResult> {
    const resource = this.resource(resourceName);
    const selection = this.selectionOf(ctx, resource, options);
    const id = this.requireKey(resource, rawId);
    const row = await this.write(ctx, async (tx) => {
      const scope = await this.parentCondition(ctx, tx, resource, options.parent);
      const current = await tx.get(resource.name, id);
      if (!current || !(await this.canSee(ctx, tx, resource, current, scope.condition))) throw errors.notFound(resource.singular, rawId);
      const decision = this.access(ctx, resource, 'delete');
      if (!(await this.visible(tx, resource, current, decision.condition))) throw notOwned(resource, decision.owner, 'delete');
      this.checkIfMatch(resource, current, options.ifMatch);
      await this.deleteChecked(tx, resource, current);
      return current;
    });
    return this.written(ctx, resource, row, { selection, links: false });
  }

  /** Deletes a row after settling what refers to it: restrict (409), cascade, or set null. */
  private async deleteChecked(tx: WriteTx, resource: ResourceModel, row: Row): Promise<void> {
    const id = row.id as Key;
    for (const relation of resource.relations.values()) {
      if (relation.kind !== 'many') continue;
      const child = this.resource(relation.child);
      const field = child.fields.get(relation.field);
      const onDelete = field?.reference?.onDelete ?? 'restrict';
      const refers: Condition = { kind: 'in', column: fieldColumn(child, relation.field), values: [id] };
      if (onDelete === 'restrict') {
        const n = await tx.count(child.name, refers);
        if (n > 0) {
          // SPEC §8: rows the caller cannot read never show in a count, not even in an error.
          const read = evaluateRule(child.access.read, tx.ctx.principal, child.name, child, 'read');
          const visible = !read.allowed ? 0 : read.condition.kind === 'true' ? n : await tx.count(child.name, and(refers, read.condition));
          if (visible < n) throw hiddenReferences(resource, id, child, relation.field);
          throw errors.conflict(`The ${resource.singular} '${String(id)}' is referenced by ${n} ${n === 1 ? child.singular : child.name}; delete ${n === 1 ? 'it' : 'them'} first`, {
            referencedBy: { resource: child.name, field: relation.field, count: n },
          });
        }
        continue;
      }
      for (;;) {
        const batch = await tx.read({ resource: child.name, where: refers, order: [{ column: keyColumn(child), descending: false }], offset: 0, limit: 500, after: null, count: 'none' });
        if (batch.rows.length === 0) break;
        // A cascade (or set null) never reaches rows the caller could not delete (or change)
        // itself: deleting your own parent does not delete another principal's children.
        const operation = onDelete === 'cascade' ? 'delete' : 'update';
        if (batch.rows.some((childRow) => !this.can(tx.ctx, child.name, operation, childRow))) throw hiddenReferences(resource, id, child, relation.field);
        for (const childRow of batch.rows) {
          if (onDelete === 'cascade') await this.deleteChecked(tx, child, childRow);
          else await this.updateChecked(tx, child, childRow, { ...childRow, [relation.field]: null });
        }
      }
    }
    await tx.delete(resource.name, id);
    await this.record(tx, { type: 'deleted', resource: resource.name, id, before: row, after: null, fields: resource.fieldList.map((f) => f.name) });
  }

  /** Runs writes in one transaction, recording every change; recorders hear of them after the commit. */
  private async write<T>(ctx: CallContext, fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    let changes: readonly Change[] = [];
    const result = await this.store.transaction(async (inner) => {
      const tx = new WriteTx(inner, ctx);
      const out = await fn(tx);
      changes = tx.changes;
      return out;
    });
    if (changes.length > 0) for (const recorder of this.recorders) recorder.committed(changes, ctx);
    if (this.blobs && changes.length > 0) await this.dropOrphanedBlobs(changes);
    return result;
  }

  /** After a commit: blob files no row refers to any more (deleted items, replaced blobs). */
  private async dropOrphanedBlobs(changes: readonly Change[]): Promise<void> {
    const blobs = this.blobs as BlobStore;
    for (const change of changes) {
      const resource = this.api.resources.get(change.resource);
      if (!resource || resource.blobFields.length === 0) continue;
      for (const ref of orphanedBlobs(resource.blobFields, change.before, change.after)) await blobs.remove(ref).catch(() => undefined);
    }
  }

  private async record(tx: WriteTx, change: Change): Promise<void> {
    tx.changes.push(change);
    for (const recorder of this.recorders) await recorder.record(tx.inner, change, tx.ctx);
  }

  /** Plugs a recorder in (the events room); every later write reports to it. */
  addRecorder(recorder: ChangeRecorder): void {
    this.recorders.push(recorder);
  }

  /** PUT on a collection: replace (or create) every item of the body, all or nothing. */
  async bulkReplace(ctx: CallContext, resourceName: string, body: unknown, options: WriteOptions = {}): Promise<ItemResult[]> {
    const resource = this.resource(resourceName);
    body = this.versions.incoming(resource, body, ctx.apiVersion, 'replace');
    if (!Array.isArray(body)) {
      throw errors.invalidItem(resource.singular, [{ field: '', error: 'type', error_description: `The body must be a JSON array of ${resource.name}, each with its id` }]);
    }
    if (body.length > this.bulkItems) throw errors.invalidRequest(`At most ${this.bulkItems} items can be replaced in one request.`);
    const validator = this.validator(resource);
    const problems: FieldError[] = [];
    const entries: { id: Key; object: Record<string, unknown>; prefix: string }[] = [];
    const seen = new Set<string>();
    body.forEach((item, i) => {
      const prefix = `[${i}]`;
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        problems.push({ field: prefix, error: 'type', error_description: `Item ${i} must be a JSON object` });
        return;
      }
      const object = item as Record<string, unknown>;
      const id = this.parseKey(resource, object.id);
      if (id === null) {
        problems.push({ field: `${prefix}.id`, error: object.id === undefined ? 'required' : 'format', error_description: `Item ${i} needs a valid id to be replaced` });
        return;
      }
      if (seen.has(String(id))) problems.push({ field: `${prefix}.id`, error: 'duplicate', error_description: `The id ${String(id)} appears twice in the body` });
      seen.add(String(id));
      problems.push(...validator.prepareWrite(object, prefix).problems);
      entries.push({ id, object, prefix });
    });
    if (problems.length > 0) throw errors.invalidItem(resource.singular, problems);
    const rows = await this.write(ctx, async (tx) => {
      const scope = await this.parentCondition(ctx, tx, resource, options.parent);
      const out: Row[] = [];
      for (const entry of entries) out.push((await this.replaceOne(ctx, tx, resource, entry.id, entry.object, undefined, scope, entry.prefix)).row);
      return out;
    });
    return Promise.all(rows.map((r) => this.written(ctx, resource, r)));
  }

  // -------------------------------------------------------------------------------------
  // Bulk load (`carte import`, `carte serve db.json`)

  /**
   * Checks one item to import without touching the database: the same validation and
   * defaults as a create, its `id` (kept when given) well formed, its initial state allowed.
   * Returns the key it asks for (null: assigned by the store) and every problem.
   */
  checkImportItem(resourceName: string, item: unknown): { id: Key | null; problems: FieldError[] } {
    const resource = this.resource(resourceName);
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      return { id: null, problems: [{ field: '', error: 'type', error_description: `Each item must be a JSON object representing a ${resource.singular}` }] };
    }
    const object = item as Record<string, unknown>;
    const problems: FieldError[] = [];
    let id: Key | null = null;
    if (object.id !== undefined && object.id !== null) {
      id = this.parseKey(resource, object.id);
      if (id === null) problems.push({ field: 'id', error: 'format', error_description: resource.key.type === 'uuid' ? 'The id must be a UUID' : 'The id must be a positive integer' });
    }
    const { values, problems: more } = this.validator(resource).prepareWrite(object);
    problems.push(...more);
    if (more.length === 0) {
      try {
        this.checkInitialState(resource, values);
      } catch (e) {
        if (!(e instanceof CarteError)) throw e;
        const field = resource.stateField?.name ?? '';
        problems.push({ field, error: 'transition', error_description: e.message });
      }
    }
    return { id, problems };
  }

  /**
   * Creates a batch of items in ONE transaction, each exactly as a create would (validation,
   * defaults, references, unique keys, events), keeping the `id` an item gives. All or
   * nothing: the first refused item throws an ImportItemError naming its position.
   */
  async importBatch(ctx: CallContext, resourceName: string, items: readonly unknown[]): Promise<number> {
    const resource = this.resource(resourceName);
    const decision = this.access(ctx, resource, 'create');
    const validator = this.validator(resource);
    const prepared = items.map((item, index) => {
      try {
        const object = validator.asObject(item);
        const id = object.id === undefined || object.id === null ? null : this.parseKey(resource, object.id);
        if (id === null && object.id !== undefined && object.id !== null) {
          throw errors.invalidItem(resource.singular, [{ field: 'id', error: 'format', error_description: resource.key.type === 'uuid' ? 'The id must be a UUID' : 'The id must be a positive integer' }]);
        }
        const values = this.prepareCreate(resource, object, { field: null, value: null }, decision.owner);
        // An exported item keeps its createdAt/updatedAt when they are valid date-times.
        for (const name of [resource.timestamps.createdAt, resource.timestamps.updatedAt]) {
          const given = name ? object[name] : undefined;
          if (name && typeof given === 'string' && DATE_TIME.test(given) && !Number.isNaN(Date.parse(given))) values[name] = new Date(given).toISOString();
        }
        return { id, values };
      } catch (e) {
        throw e instanceof CarteError ? new ImportItemError(index, e) : e;
      }
    });
    await this.write(ctx, async (tx) => {
      for (const [index, item] of prepared.entries()) {
        try {
          await this.insertChecked(tx, resource, item.values, item.id);
        } catch (e) {
          throw e instanceof CarteError ? new ImportItemError(index, e) : e;
        }
      }
    });
    return prepared.length;
  }

  /** DELETE on a collection: every item matching the filters, all or nothing. */
  async deleteMatching(ctx: CallContext, resourceName: string, filters: readonly RawFilter[], options: WriteOptions = {}): Promise<number> {
    const resource = this.resource(resourceName);
    if (filters.length === 0 && !options.parent) {
      throw errors.invalidRequest(`Deleting a whole collection needs at least one filter (e.g. ${this.prefix}/${resource.name}?id[gte]=1 to delete every ${resource.singular}).`);
    }
    const terms = parseFilters(resource, this.versions.filters(resource, filters, ctx.apiVersion), this.limits);
    const read = this.readCondition(ctx, resource);
    const del = this.access(ctx, resource, 'delete').condition;
    return this.write(ctx, async (tx) => {
      const scope = await this.parentCondition(ctx, tx, resource, options.parent);
      const where = and(...terms.map(filterCondition), read, del, scope.condition);
      let deleted = 0;
      for (;;) {
        const batch = await tx.read({ resource: resource.name, where, order: [{ column: keyColumn(resource), descending: false }], offset: 0, limit: 500, after: null, count: 'none' });
        if (batch.rows.length === 0) break;
        for (const row of batch.rows) await this.deleteChecked(tx, resource, row);
        deleted += batch.rows.length;
      }
      return deleted;
    });
  }

  // -------------------------------------------------------------------------------------
  // Actions (SPEC §4.12)

  actionModel(rpcName: string): ActionModel | undefined {
    return this.actions.get(rpcName)?.model;
  }

  /** Runs an operation: input validated, handler called, output validated. */
  async action(ctx: CallContext, rpcName: string, input: unknown, item?: { resource: string; id: unknown }): Promise<Json> {
    const runtime = this.actions.get(rpcName);
    if (!runtime) throw errors.noRoute('POST', `${this.prefix}/${rpcName.replace(/\./g, '/')}`);
    const model = runtime.model;
    const decision = evaluateRule(model.access, ctx.principal, model.name, null, 'create');
    if (!decision.allowed) throw decision.error;
    let current: Row | undefined;
    if (item) {
      const resource = this.resource(item.resource);
      current = (await this.get(ctx, resource.name, item.id)).data;
    }
    const problems = runtime.input ? runtime.input.check(input) : [];
    if (problems.length > 0) {
      throw errors.invalidRequest(`The input of ${model.name} is not valid: ${problems[0]?.error_description}`, { errors: problems });
    }
    if (!model.handler) throw errors.notImplemented(`The operation ${model.name} has no handler`);
    let output: Json;
    try {
      output = await model.handler(input as Json, { principal: ctx.principal, ...(current ? { item: current as JsonObject } : {}) });
    } catch (e) {
      if (e instanceof CarteError) throw e;
      throw errors.serverError(e);
    }
    if (runtime.output) {
      const bad = runtime.output.check(output);
      if (bad.length > 0) throw errors.serverError(new Error(`the output of ${model.name} does not match its schema: ${bad.map((b) => b.error_description).join('; ')}`));
    }
    return output;
  }

  /** An operation under an `Idempotency-Key` (SPEC §4.7): run once; duplicates replay, or wait for, the first. */
  async actionOnce(ctx: CallContext, rpcName: string, input: unknown, item: { resource: string; id: unknown } | undefined, idempotencyKey: string): Promise<ActionOutcome> {
    const id: IdempotencyScope = {
      scope: principalKey(ctx.principal),
      key: parseIdempotencyKey(idempotencyKey),
      fingerprint: fingerprintOf({ operation: 'action', action: rpcName, item: item ? { resource: item.resource, id: String(item.id) } : null, input }),
    };
    const { value, replayed } = await this.idempotency.once(id, () => this.action(ctx, rpcName, input, item));
    return { result: value, replayed };
  }

  // -------------------------------------------------------------------------------------
  // Blobs (SPEC §4.9): bytes in the BlobStore, metadata in the row, changed in a transaction.

  private blobField(resource: ResourceModel, name: string, method: string): FieldModel {
    const field = resource.fields.get(name);
    if (!field || field.type !== 'blob') throw errors.noRoute(method, `${this.prefix}/${resource.name}/{id}/${name}`);
    return field;
  }

  private requireBlobs(): BlobStore {
    if (!this.blobs) throw errors.notImplemented('This server keeps no blob storage');
    return this.blobs;
  }

  /** RFC 9110 §13.1.1 on the blob's own ETag; `requireIfMatch` asks for one once a blob exists. */
  private checkBlobMatch(resource: ResourceModel, value: unknown, ifMatch: readonly string[] | undefined): void {
    const meta = isBlobMeta(value) ? value : null;
    if (ifMatch === undefined) {
      if (resource.requireIfMatch && meta) throw errors.preconditionRequired(resource.singular);
      return;
    }
    if (ifMatch.includes('*') ? !meta : !meta || !ifMatch.includes(meta.etag)) throw errors.preconditionFailed('The blob has changed since the ETag given in If-Match');
  }

  /** The row a blob belongs to, if the caller may see it (and, for writes, change it). */
  private async blobRow(ctx: CallContext, resource: ResourceModel, rawId: unknown, operation: 'read' | 'update'): Promise<Row> {
    const id = this.requireKey(resource, rawId);
    const row = await this.store.get(resource.name, id);
    if (!row || !(await this.canSee(ctx, this.store, resource, row, { kind: 'true' }))) throw errors.notFound(resource.singular, rawId);
    if (operation === 'update') {
      const decision = this.access(ctx, resource, 'update');
      if (!(await this.visible(this.store, resource, row, decision.condition))) throw errors.notFound(resource.singular, rawId);
    }
    return row;
  }

  async getBlob(ctx: CallContext, resourceName: string, rawId: unknown, fieldName: string): Promise<BlobContent> {
    const resource = this.resource(resourceName);
    const field = this.blobField(resource, fieldName, 'GET');
    const blobs = this.requireBlobs();
    const row = await this.blobRow(ctx, resource, rawId, 'read');
    const meta = row[field.name];
    if (!isBlobMeta(meta)) throw new CarteError('not_found', `The ${resource.singular} '${String(rawId)}' has no ${field.name}`);
    const content = blobContent(blobs, meta);
    return {
      ...content,
      open: async (start, end) => {
        try {
          return await content.open(start, end);
        } catch (e) {
          // Replaced between reading the row and opening the file: the old bytes are gone.
          if (e instanceof BlobMissingError) throw errors.conflict(`The ${field.name} was replaced while it was being read; request it again`);
          throw e;
        }
      },
    };
  }

  async putBlob(ctx: CallContext, resourceName: string, rawId: unknown, fieldName: string, upload: BlobUpload): Promise<BlobContent> {
    const resource = this.resource(resourceName);
    const field = this.blobField(resource, fieldName, 'PUT');
    const blobs = this.requireBlobs();
    const limits = field.blob as NonNullable<FieldModel['blob']>;
    // Everything that can be refused is refused before a byte is read.
    const current = await this.blobRow(ctx, resource, rawId, 'update');
    const type = mediaTypeOf(upload.contentType);
    if (!type || !acceptsMediaType(field, type)) throw errors.unsupportedMediaType(type ?? 'none', limits.mediaTypes);
    if (upload.length !== undefined && upload.length > limits.maxBytes) throw errors.payloadTooLarge(limits.maxBytes);
    this.checkBlobMatch(resource, current[field.name], upload.ifMatch);
    let stored;
    try {
      stored = await blobs.put(upload.stream, limits.maxBytes);
    } catch (e) {
      if (e instanceof BlobTooLargeError) throw errors.payloadTooLarge(limits.maxBytes);
      if (e instanceof BlobInterruptedError) throw errors.invalidBody(`The upload of ${field.name} ended before its end; nothing was kept`);
      throw e;
    }
    const meta: BlobMeta = { ref: stored.ref, contentType: type, size: stored.size, etag: `"${stored.digest}"`, updatedAt: new Date().toISOString() };
    try {
      await this.write(ctx, async (tx) => {
        const row = await tx.get(resource.name, current.id as Key);
        if (!row) throw errors.notFound(resource.singular, rawId);
        this.checkBlobMatch(resource, row[field.name], upload.ifMatch);
        const changed: Row = { [field.name]: meta };
        if (resource.timestamps.updatedAt) changed[resource.timestamps.updatedAt] = meta.updatedAt;
        const after = (await tx.update(resource.name, row.id as Key, changed)) as Row;
        await this.record(tx, { type: 'updated', resource: resource.name, id: row.id as Key, before: row, after, fields: Object.keys(changed) });
      });
    } catch (e) {
      await blobs.remove(stored.ref);
      throw e;
    }
    return blobContent(blobs, meta);
  }

  async deleteBlob(ctx: CallContext, resourceName: string, rawId: unknown, fieldName: string, ifMatch?: readonly string[]): Promise<void> {
    const resource = this.resource(resourceName);
    const field = this.blobField(resource, fieldName, 'DELETE');
    this.requireBlobs();
    const current = await this.blobRow(ctx, resource, rawId, 'update');
    await this.write(ctx, async (tx) => {
      const row = await tx.get(resource.name, current.id as Key);
      if (!row || !isBlobMeta(row[field.name])) throw new CarteError('not_found', `The ${resource.singular} '${String(rawId)}' has no ${field.name}`);
      this.checkBlobMatch(resource, row[field.name], ifMatch);
      const changed: Row = { [field.name]: null };
      if (resource.timestamps.updatedAt) changed[resource.timestamps.updatedAt] = new Date().toISOString();
      const after = (await tx.update(resource.name, row.id as Key, changed)) as Row;
      await this.record(tx, { type: 'updated', resource: resource.name, id: row.id as Key, before: row, after, fields: Object.keys(changed) });
    });
  }
}

export interface ActionOutcome {
  readonly result: Json;
  /** The answer was remembered under the Idempotency-Key (SPEC §4.7). */
  readonly replayed: boolean;
}

/**
 * The caller may read the item (so its existence is no secret) but the write rule's owner
 * condition excludes it: 403, not 404.
 */
function notOwned(resource: ResourceModel, owner: { readonly field: string } | null, verb: 'change' | 'delete'): CarteError {
  return new CarteError('not_allowed', owner ? `You can only ${verb} ${resource.name} whose ${owner.field} is you` : `You may not ${verb} this ${resource.singular}`);
}

/**
 * 409 for a delete that would reach rows the caller may not see or change (SPEC §8): the
 * delete is refused as a whole, without saying how many such rows there are or which.
 */
function hiddenReferences(resource: ResourceModel, id: Key, child: ResourceModel, field: string): CarteError {
  return errors.conflict(`The ${resource.singular} '${String(id)}' is referenced by ${child.name} you may not delete or change; it cannot be deleted`, {
    referencedBy: { resource: child.name, field },
  });
}

function join(prefix: string, field: string): string {
  return prefix ? `${prefix}.${field}` : field;
}

/** The search as the server understood it, in the order the filters were given. */
function describeQuery(filters: readonly RawFilter[]): string {
  return filters
    .map((f) => `${f.name}${f.op === 'eq' ? '' : `[${f.op}]`}=${f.values.map((v) => String(v).replace(/,/g, '\\,')).join(',')}`)
    .join('&');
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** An item of an import batch was refused; `index` is its position in the batch. */
export class ImportItemError extends Error {
  constructor(
    readonly index: number,
    readonly error: CarteError,
  ) {
    super(`item ${index}: ${error.message}`);
    this.name = 'ImportItemError';
  }
}
