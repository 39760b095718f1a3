/**
 * The previous major version's representation (SPEC §4.10): items are read in the old
 * shape and old-shape writes are converted to the current one, following the schema's
 * `previousVersion` mapping (`omit`, `from` renames, `join` — one string for an object's
 * parts, seed 003's address). Queries naming old fields are translated the same way.
 * Protocol-neutral: every front end passes the version the caller addressed in its context.
 */
import { errors, type FieldError } from '../errors.js';
import { parseFieldsSyntax } from '../query/parse-fields.js';
import type { QueryInput, QueryLimits, RawFilter } from '../query/types.js';
import type { ApiModel, FieldSpec, PreviousFieldModel, PreviousResourceModel, ResourceModel } from '../schema/types.js';
import type { Row } from '../store/store.js';

type WriteMode = 'create' | 'replace' | 'patch';

interface FieldsNode {
  readonly name: string;
  readonly children: FieldsNode[] | null;
}

export class VersionMapper {
  constructor(
    private readonly api: ApiModel,
    private readonly limits: QueryLimits,
  ) {}

  get current(): number {
    return this.api.version;
  }

  /** Every version served, the current one first. */
  get supported(): number[] {
    return this.api.previous ? [this.api.version, this.api.previous.version] : [this.api.version];
  }

  /** The version a call addresses (the current one when none is said). */
  versionOf(version: number | undefined): number {
    return version ?? this.api.version;
  }

  prefix(version: number | undefined): string {
    return `/v${this.versionOf(version)}`;
  }

  isPrevious(version: number | undefined): boolean {
    return version !== undefined && this.api.previous !== null && version === this.api.previous.version && version !== this.api.version;
  }

  private mapping(resource: ResourceModel, version: number | undefined): PreviousResourceModel | null {
    if (!this.isPrevious(version)) return null;
    return this.api.previous?.resources.get(resource.name) ?? null;
  }

  /** Whether anything differs for this resource in this version (saves work on the common path). */
  private touches(resource: ResourceModel, version: number | undefined, seen = new Set<string>()): boolean {
    if (!this.isPrevious(version)) return false;
    if (this.mapping(resource, version)) return true;
    seen.add(resource.name);
    for (const relation of resource.relations.values()) {
      if (seen.has(relation.target)) continue;
      const target = this.api.resources.get(relation.target);
      if (target && this.touches(target, version, seen)) return true;
    }
    return false;
  }

  /** The current representation of an item (with embedded relations) in the caller's version. */
  outgoing(resource: ResourceModel, data: Row, version: number | undefined): Row {
    if (!this.touches(resource, version)) return data;
    const mapping = this.mapping(resource, version);
    const out: Row = {};
    for (const [name, value] of Object.entries(data)) {
      if (mapping?.omit.has(name)) continue;
      const field = mapping?.bySource.get(name);
      if (field) {
        out[field.name] = field.kind === 'rename' ? value : joinParts(field, value);
        continue;
      }
      const relation = resource.relations.get(name);
      const target = relation ? this.api.resources.get(relation.target) : undefined;
      if (target && value !== null && typeof value === 'object') {
        out[name] = Array.isArray(value) ? value.map((v) => this.outgoing(target, v as Row, version)) : this.outgoing(target, value as Row, version);
        continue;
      }
      out[name] = value;
    }
    return out;
  }

  /**
   * A body written in the caller's version, in the current shape. A member the old version
   * does not have is refused as unknown, as the current version would refuse one.
   */
  incoming(resource: ResourceModel, body: unknown, version: number | undefined, mode: WriteMode, prefix = ''): unknown {
    const mapping = this.mapping(resource, version);
    if (!mapping) return body;
    if (Array.isArray(body)) return body.map((item, i) => this.incoming(resource, item, version, mode, `${prefix}[${i}]`));
    if (typeof body !== 'object' || body === null) return body;
    const out: Record<string, unknown> = {};
    const problems: FieldError[] = [];
    const path = (name: string) => (prefix ? `${prefix}.${name}` : name);
    for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
      const field = mapping.fields.get(name);
      if (field) {
        if (field.kind === 'rename') out[field.source] = value;
        else {
          const spec = resource.fields.get(field.source)?.spec as FieldSpec;
          const split = splitParts(field, spec, value, mode);
          if (split === undefined) problems.push({ field: path(name), error: 'type', error_description: `'${path(name)}' must be a string` });
          else out[field.source] = split;
        }
        continue;
      }
      if (mapping.omit.has(name) || mapping.bySource.has(name)) {
        problems.push({ field: path(name), error: 'unknown', error_description: `There is no '${path(name)}' property` });
        continue;
      }
      out[name] = value;
    }
    if (problems.length > 0) throw errors.invalidItem(resource.singular, problems);
    return out;
  }

  /**
   * PUT through the previous version replaces what that version can see: fields it does
   * not show (and an object's members a `join` does not cover) keep their stored values.
   */
  keepHidden(resource: ResourceModel, object: Record<string, unknown>, current: Row, version: number | undefined): Record<string, unknown> {
    const mapping = this.mapping(resource, version);
    if (!mapping) return object;
    const out = { ...object };
    for (const name of mapping.omit) if (!(name in out) && current[name] !== undefined) out[name] = current[name];
    for (const field of mapping.fields.values()) {
      if (field.kind !== 'join') continue;
      const stored = current[field.source];
      const given = out[field.source];
      if (stored && typeof stored === 'object' && given && typeof given === 'object') {
        const kept = Object.fromEntries(Object.entries(stored as Record<string, unknown>).filter(([k]) => !field.parts.includes(k)));
        out[field.source] = { ...kept, ...(given as Record<string, unknown>) };
      }
    }
    return out;
  }

  /** A query written with the caller's field names, with the current ones. */
  query(resource: ResourceModel, input: QueryInput, version: number | undefined): QueryInput {
    if (!this.touches(resource, version)) return input;
    const out: { -readonly [K in keyof QueryInput]: QueryInput[K] } = { ...input };
    if (input.filters) out.filters = this.filters(resource, input.filters, version);
    if (input.sort) out.sort = input.sort.map((s) => this.path(resource, s, version, 'sort by'));
    if (Array.isArray(input.desc)) out.desc = (input.desc as readonly string[]).map((s) => this.path(resource, s, version, 'sort by'));
    if (input.fields) out.fields = this.fields(resource, input.fields, version);
    return out;
  }

  filters(resource: ResourceModel, filters: readonly RawFilter[], version: number | undefined): RawFilter[] {
    if (!this.mapping(resource, version)) return [...filters];
    return filters.map((f) => ({ ...f, name: this.path(resource, f.name, version, 'filter by') }));
  }

  /** A dotted path whose first segment is an old field name → the current path. */
  private path(resource: ResourceModel, dotted: string, version: number | undefined, verb: string): string {
    const mapping = this.mapping(resource, version);
    if (!mapping) return dotted;
    const [head, ...rest] = dotted.split('.');
    const field = mapping.fields.get(head as string);
    if (field?.kind === 'rename') return [field.source, ...rest].join('.');
    if (field?.kind === 'join') {
      throw errors.invalidRequest(`In v${String(version)}, '${head}' is one string made of ${field.parts.join(', ')}; it cannot be used to ${verb}. Version ${this.api.version} can.`);
    }
    if (mapping.omit.has(head as string) || mapping.bySource.has(head as string)) throw errors.noProperty(head as string, resource.name);
    return dotted;
  }

  private fields(resource: ResourceModel, text: string, version: number | undefined): string {
    const nodes = parseFieldsSyntax(text, this.limits) as FieldsNode[];
    return this.fieldNodes(resource, nodes, version).map(serialize).join(',');
  }

  private fieldNodes(resource: ResourceModel, nodes: readonly FieldsNode[], version: number | undefined): FieldsNode[] {
    const mapping = this.mapping(resource, version);
    return nodes.map((node) => {
      const field = mapping?.fields.get(node.name);
      if (field) {
        if (field.kind === 'join' && node.children) throw errors.invalidRequest(`'${node.name}' has no properties to select.`);
        return { name: field.source, children: node.children };
      }
      if (mapping && (mapping.omit.has(node.name) || mapping.bySource.has(node.name))) throw errors.noProperty(node.name, resource.name);
      const relation = resource.relations.get(node.name);
      const target = relation ? this.api.resources.get(relation.target) : undefined;
      if (target && node.children) return { name: node.name, children: this.fieldNodes(target, node.children, version) };
      return node;
    });
  }

  /** The top-level names of an item in the caller's version, in order (CSV headers). */
  fieldNames(resource: ResourceModel, version: number | undefined): string[] {
    const mapping = this.mapping(resource, version);
    const names = ['id'];
    for (const field of resource.fieldList) {
      if (mapping?.omit.has(field.name)) continue;
      names.push(mapping?.bySource.get(field.name)?.name ?? field.name);
    }
    return names;
  }
}

function serialize(node: FieldsNode): string {
  return node.children ? `${node.name}(${node.children.map(serialize).join(',')})` : node.name;
}

/** `{street, city, zipCode}` → "1 Way, Paris, 75001": missing parts are empty; trailing empty parts are dropped. */
export function joinParts(field: Extract<PreviousFieldModel, { kind: 'join' }>, value: unknown): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const source = value as Record<string, unknown>;
  const parts = field.parts.map((p) => (source[p] === null || source[p] === undefined ? '' : String(source[p])));
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts.length === 0 ? null : parts.join(field.separator);
}

/**
 * "1 Way, Paris, 75001" → `{street, city, zipCode}`: split on the separator (its spaces
 * optional), extra pieces stay in the last part, numbers become numbers for number
 * properties. Empty parts are left out on create and replace, and null (removed) in a patch.
 * Returns undefined when the value is not a string.
 */
export function splitParts(field: Extract<PreviousFieldModel, { kind: 'join' }>, spec: FieldSpec, value: unknown, mode: WriteMode): Record<string, unknown> | null | undefined {
  if (value === null) return null;
  if (typeof value !== 'string') return undefined;
  if (value.trim() === '') return null;
  const separator = field.separator.trim() || field.separator;
  const pieces = value.split(separator);
  const head = pieces.slice(0, field.parts.length - 1);
  const tail = pieces.slice(field.parts.length - 1).join(separator);
  const values = [...head, tail];
  const out: Record<string, unknown> = {};
  field.parts.forEach((part, i) => {
    const text = (values[i] ?? '').trim();
    if (text === '') {
      if (mode === 'patch') out[part] = null;
      return;
    }
    const type = spec.properties?.[part]?.type;
    out[part] = (type === 'integer' || type === 'number') && /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
  });
  return out;
}
