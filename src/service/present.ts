/**
 * Turns stored rows into what callers see: `fields` projections, blobs as hrefs, and
 * relations embedded in batches — one read per relation per level, whatever the page size
 * (SPEC §4.5: embedding never costs one query per row).
 */
import { hash, type BinaryLike } from 'node:crypto';
import { pickNested } from '../query/parse-fields.js';
import type { EmbedPage, FieldSelection } from '../query/types.js';
import type { ApiModel, RelationModel, ResourceModel } from '../schema/types.js';
import type { Condition, Key, Row, StoreReader } from '../store/store.js';
import { and, fieldColumn, filterCondition, keyColumn, orderKeys } from './plan.js';
import type { EmbeddedPage } from './types.js';

/** A short digest of a text, for entity tags (SHA-1, base64url; one-shot `crypto.hash`, Node ≥ 20.12). */
export function digestOf(text: BinaryLike): string {
  return hash('sha1', text, 'base64url');
}

/** A strong ETag for a text: its digest, quoted. */
export function textTag(text: string): string {
  return `"${digestOf(text)}"`;
}

/** Strong ETag of a stored item: a digest of its stored values. */
export function versionTag(row: Row): string {
  return textTag(JSON.stringify(row));
}

/** Whether two rows have the same members in the same order with the same values: then they are written to the same JSON. */
export function sameMembers(a: Row, b: Row): boolean {
  if (a === b) return true;
  // `for…in` over one row reads its members through V8's enumeration cache (no keyed lookups, no array of its keys).
  const others = Object.keys(b);
  let i = 0;
  for (const key in a) {
    if (key !== others[i] || a[key] !== b[key]) return false;
    i++;
  }
  return i === others.length;
}

/** Whether presenting under `selection` embeds related items (queries); without, `shape` alone presents a row. */
export function embedsRelations(selection: FieldSelection | null): selection is FieldSelection {
  return selection !== null && (selection.relations.size > 0 || (selection.embeds !== undefined && selection.embeds.size > 0));
}

export function itemHref(baseUrl: string, prefix: string, resource: string, id: Key): string {
  // A number needs no escaping (most keys: links are written on every read).
  return `${baseUrl}${prefix}/${resource}/${typeof id === 'number' ? id : encodeURIComponent(id)}`;
}

export interface PresentOptions {
  readonly baseUrl: string;
  /** `/v1` */
  readonly prefix: string;
}

/** Stored blob metadata (the column value). */
interface BlobMeta {
  readonly contentType: string;
  readonly size: number;
}

/** `Presenter.shape` of a whole row, compiled per resource (see `wholeShape`). */
const WHOLE = new WeakMap<ResourceModel, (row: Row) => Row>();

/**
 * `shape` without a selection, for a resource without blob fields, written for its fields: an
 * object literal with a fixed set of members, read by name, instead of a loop that reads and
 * writes members by a variable key (V8's megamorphic keyed access, twice per field and row).
 * Field names are the schema's, written as JSON string literals.
 */
function wholeShape(resource: ResourceModel): ((row: Row) => Row) | null {
  if (resource.blobFields.length > 0) return null;
  let shape = WHOLE.get(resource);
  if (!shape) {
    const members = resource.fieldList.map((f, i) => ({ read: `const v${i} = row[${JSON.stringify(f.name)}];`, member: `${JSON.stringify(f.name)}: v${i} === undefined ? null : v${i}` }));
    shape = new Function('row', `${members.map((m) => m.read).join('\n')}\nreturn { id: row.id, ${members.map((m) => m.member).join(', ')} };`) as (row: Row) => Row;
    WHOLE.set(resource, shape);
  }
  return shape;
}

export class Presenter {
  constructor(
    private readonly api: ApiModel,
    /** The read condition of a resource for the caller (access rules), applied to embeds. */
    private readonly readCondition: (resource: ResourceModel) => Condition,
  ) {}

  /** One row as its representation: projected, blobs as hrefs (no embedding). */
  shape(resource: ResourceModel, row: Row, selection: FieldSelection | null, options: PresentOptions): Row {
    const whole = selection ? null : wholeShape(resource);
    if (whole) return whole(row);
    const out: Row = { id: row.id };
    const fields = selection ? resource.fieldList.filter((f) => selection.fields.has(f.name)) : resource.fieldList;
    for (const field of fields) {
      let value = row[field.name];
      if (field.type === 'blob') {
        const meta = value as BlobMeta | null;
        value = meta ? { href: `${itemHref(options.baseUrl, options.prefix, resource.name, row.id as Key)}/${field.name}`, contentType: meta.contentType, size: meta.size } : null;
      } else {
        const nested = selection?.nested.get(field.name);
        if (nested) value = pickNested(value, nested);
      }
      out[field.name] = value === undefined ? null : value;
    }
    return out;
  }

  /** Shapes a page of rows and embeds the relations the selection names, batched. */
  async present(reader: StoreReader, resource: ResourceModel, rows: readonly Row[], selection: FieldSelection | null, options: PresentOptions): Promise<Row[]> {
    const shaped = rows.map((r) => this.shape(resource, r, selection, options));
    if (embedsRelations(selection)) {
      await this.embed(reader, resource, rows, shaped, selection, options);
    }
    return shaped;
  }

  private async embed(reader: StoreReader, resource: ResourceModel, rows: readonly Row[], shaped: Row[], selection: FieldSelection, options: PresentOptions): Promise<void> {
    // `fields=client(name),orders(state)`: the related item, or the first maxRange related items as a list.
    for (const [name, sub] of selection.relations) {
      const relation = resource.relations.get(name);
      if (!relation) continue;
      const values = relation.kind === 'one' ? await this.fetchOne(reader, relation, rows, sub, options) : await this.fetchMany(reader, relation, rows, sub, null, options);
      rows.forEach((_, i) => {
        (shaped[i] as Row)[name] = relation.kind === 'one' ? (values[i] ?? null) : ((values[i] as EmbeddedPage).items ?? []);
      });
    }
    // Structured selections: under the member asked for; to-many relations as pages.
    for (const [key, embed] of selection.embeds ?? []) {
      const relation = resource.relations.get(embed.relation);
      if (!relation) continue;
      const values = relation.kind === 'one' ? await this.fetchOne(reader, relation, rows, embed.selection, options) : await this.fetchMany(reader, relation, rows, embed.selection, embed.page, options);
      rows.forEach((_, i) => {
        (shaped[i] as Row)[key] = (values[i] ?? null) as Row[keyof Row];
      });
    }
  }

  /** The related item of each row (to-one), in one read for the whole page. */
  private async fetchOne(reader: StoreReader, relation: RelationModel, rows: readonly Row[], sub: FieldSelection | null, options: PresentOptions): Promise<(Row | null)[]> {
    const target = this.api.resources.get(relation.target) as ResourceModel;
    const ids = [...new Set(rows.map((r) => r[relation.field]).filter((v) => v !== null && v !== undefined))] as (string | number)[];
    const found = new Map<unknown, Row>();
    if (ids.length > 0) {
      const result = await reader.read({
        resource: target.name,
        where: and({ kind: 'in', column: keyColumn(target), values: ids }, this.readCondition(target)),
        order: [{ column: keyColumn(target), descending: false }],
        offset: 0,
        limit: ids.length,
        after: null,
        count: 'none',
      });
      const presented = await this.present(reader, target, result.rows, sub, options);
      result.rows.forEach((r, i) => found.set(r.id, presented[i] as Row));
    }
    return rows.map((r) => found.get(r[relation.field]) ?? null);
  }

  /**
   * A page of related items per row (to-many), in one read for the whole page plus one grouped
   * count when the totals are wanted. Without a page: the first maxRange items by key
   * (SPEC §4.5: embedded collections are capped at maxRange).
   */
  private async fetchMany(reader: StoreReader, relation: RelationModel, rows: readonly Row[], sub: FieldSelection | null, page: EmbedPage | null, options: PresentOptions): Promise<EmbeddedPage[]> {
    const target = this.api.resources.get(relation.target) as ResourceModel;
    const offset = page?.offset ?? 0;
    const ids = rows.map((r) => r.id) as (string | number)[];
    const groups = new Map<unknown, Row[]>();
    let totals: ReadonlyMap<unknown, number> | null = null;
    if (ids.length > 0) {
      const result = await reader.read({
        resource: target.name,
        where: and({ kind: 'in', column: fieldColumn(target, relation.field), values: ids }, this.readCondition(target), ...(page?.filters ?? []).map(filterCondition)),
        order: page ? orderKeys(page.sort) : [{ column: keyColumn(target), descending: false }],
        offset,
        limit: page?.limit ?? target.maxRange,
        after: null,
        count: page?.count ?? 'none',
        partitionBy: relation.field,
      });
      totals = result.partitionTotals ?? null;
      const presented = await this.present(reader, target, result.rows, sub, options);
      result.rows.forEach((r, i) => {
        const key = r[relation.field];
        const list = groups.get(key) ?? [];
        list.push(presented[i] as Row);
        groups.set(key, list);
      });
    }
    return rows.map((r) => {
      const items = groups.get(r.id) ?? [];
      return { items, first: offset, last: offset + items.length - 1, total: totals ? (totals.get(r.id) ?? 0) : null };
    });
  }
}
