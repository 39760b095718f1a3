/**
 * XML bodies (SPEC §4.2), both ways, in one shape: an item is `<restaurant><id>1</id>
 * <name>…</name><days><item>sunday</item></days></restaurant>`, a collection
 * `<restaurants><restaurant>…</restaurant></restaurants>`, an error `<error>…</error>` with
 * the members of the JSON error; arrays hold `<item>` elements (members of a to-many
 * relation are named after its resource), null is `<x nil="true"/>`. Request bodies are
 * read back by the field types of the schema. No DTD and no entities beyond XML's five
 * and character references: a document declaring any is refused before it is parsed.
 */
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { errors } from '../../../errors.js';
import type { ApiModel, ResourceModel } from '../../../schema/types.js';

/** Element names for the members of arrays and objects below one element. */
export interface XmlNames {
  /** The element name of each member of the array held by `key`. */
  itemName(key: string): string;
  /** The names below the element `key`. */
  child(key: string): XmlNames;
}

export const PLAIN_NAMES: XmlNames = { itemName: () => 'item', child: () => PLAIN_NAMES };

/** Names inside an item of `resource`: embedded to-many relations hold elements named after their resource. */
export function resourceNames(api: ApiModel, resource: ResourceModel): XmlNames {
  return {
    itemName: (key) => {
      const relation = resource.relations.get(key);
      return relation?.kind === 'many' ? (api.resources.get(relation.target)?.singular ?? 'item') : 'item';
    },
    child: (key) => {
      const relation = resource.relations.get(key);
      const target = relation ? api.resources.get(relation.target) : undefined;
      return target ? resourceNames(api, target) : PLAIN_NAMES;
    },
  };
}

/** Names of an array whose members are all `member` elements named by `names` (collections). */
export function collectionNames(member: string, names: XmlNames): XmlNames {
  return { itemName: () => member, child: () => names };
}

const XML_NAME = /^[A-Za-z_][A-Za-z0-9._-]*$/;

function isXmlName(name: string): boolean {
  return XML_NAME.test(name) && !/^xml/i.test(name);
}

type XmlNode = string | number | boolean | { [key: string]: XmlNode | XmlNode[] };

const NIL: XmlNode = { '@nil': 'true' };

/** An element `key` in the context `parent` (the names inside the element that holds it). */
function elementNode(value: unknown, parent: XmlNames, key: string): XmlNode {
  if (value === null || value === undefined) return NIL;
  if (Array.isArray(value)) {
    if (value.length === 0) return '';
    const member = parent.itemName(key);
    const inside = parent.child(key);
    const context: XmlNames = { itemName: () => 'item', child: () => inside };
    return { [member]: value.map((v) => elementNode(v, context, member)) };
  }
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return objectContent(value as Record<string, unknown>, parent.child(key));
  // XML 1.0 cannot carry most control characters, even as references: they become U+FFFD.
  if (typeof value === 'string') return value.replace(NOT_XML_CHAR, '\uFFFD');
  return value as number | boolean;
}

const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** An object's members as elements; keys that are not XML names become `<entry key="…">`. */
function objectContent(value: Record<string, unknown>, names: XmlNames): XmlNode {
  const out: Record<string, XmlNode | XmlNode[]> = {};
  const entries: XmlNode[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (isXmlName(k) && k !== 'entry') out[k] = elementNode(v, names, k);
    else {
      const node = elementNode(v, PLAIN_NAMES, 'entry');
      entries.push(typeof node === 'object' ? { '@key': k, ...node } : { '@key': k, '#text': node });
    }
  }
  if (entries.length > 0) out.entry = entries;
  return Object.keys(out).length === 0 ? '' : out;
}

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  textNodeName: '#text',
  suppressEmptyNode: true,
  suppressBooleanAttributes: false,
  processEntities: true,
  format: false,
});

/**
 * Serializes a JSON value under a root element: an object's members are named after their
 * keys (in the context `names`); an array's members `names.itemName(root)`, each in the
 * context `names.child(root)`.
 */
export function toXml(value: unknown, root: string, names: XmlNames = PLAIN_NAMES): string {
  const holder: XmlNames = { itemName: () => names.itemName(root), child: () => (Array.isArray(value) ? names.child(root) : names) };
  const node = elementNode(value, holder, root);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ [root]: node }) as string}`;
}

// ---------------------------------------------------------------------------------------
// Reading

/** What a value should become, from the schema: JSON Schema's `type`, `items`, `properties`. */
export interface XmlShape {
  readonly type?: string | readonly string[];
  readonly items?: XmlShape;
  readonly properties?: Readonly<Record<string, XmlShape>>;
}

interface Element {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: Element[];
  /** Text and CDATA, concatenated. */
  readonly text: string;
}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  // Entities are decoded here (the five of XML and character references, nothing else).
  processEntities: false,
  htmlEntities: false,
  cdataPropName: '#cdata',
  ignoreDeclaration: true,
  ignorePiTags: true,
  maxNestedTags: 64,
});

const ENTITY = /&(?:#(\d{1,7})|#x([0-9a-fA-F]{1,6})|(amp|lt|gt|quot|apos));|&/g;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(ENTITY, (match, dec: string | undefined, hex: string | undefined, named: string | undefined) => {
    if (named) return NAMED[named] as string;
    const code = dec !== undefined ? Number(dec) : hex !== undefined ? parseInt(hex, 16) : NaN;
    if (!Number.isFinite(code) || code > 0x10ffff || code === 0) throw errors.invalidBody(`The XML body holds an undeclared entity or a stray '&' near '${match}'`);
    return String.fromCodePoint(code);
  });
}

type ParsedNode = Record<string, unknown> & { ':@'?: Record<string, string> };

function toElement(node: ParsedNode): Element | null {
  const name = Object.keys(node).find((k) => k !== ':@');
  if (!name || name === '#text' || name === '#cdata') return null;
  const attributes = Object.fromEntries(Object.entries(node[':@'] ?? {}).map(([k, v]) => [k, decodeEntities(String(v))]));
  const children: Element[] = [];
  let text = '';
  for (const child of (node[name] as ParsedNode[]) ?? []) {
    if ('#text' in child) text += decodeEntities(String(child['#text']));
    else if ('#cdata' in child) text += ((child['#cdata'] as ParsedNode[]) ?? []).map((c) => String(c['#text'] ?? '')).join('');
    else {
      const element = toElement(child);
      if (element) children.push(element);
    }
  }
  return { name, attributes, children, text };
}

/**
 * Parses an XML request body into JSON following `shape`. Malformed XML, a DTD or an
 * entity declaration is a 400 `invalid_body`, refused before any expansion can happen.
 */
export function parseXmlBody(text: string, shape: XmlShape | undefined): unknown {
  // Billion laughs and external entities need a DTD: none is accepted, at once (SPEC §4.2, §8).
  if (/<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST/i.test(text)) {
    throw errors.invalidBody('XML bodies may not carry a DTD or entity declarations');
  }
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw errors.invalidBody(`The body is not well-formed XML: ${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})`);
  let parsed: ParsedNode[];
  try {
    parsed = parser.parse(text) as ParsedNode[];
  } catch (e) {
    throw errors.invalidBody(`The body is not well-formed XML: ${(e as Error).message}`);
  }
  const roots = parsed.map(toElement).filter((e): e is Element => e !== null);
  if (roots.length !== 1) throw errors.invalidBody('An XML body has exactly one root element');
  return convert(roots[0] as Element, shape, (roots[0] as Element).name);
}

function typeOf(shape: XmlShape | undefined): string | undefined {
  const t = shape?.type;
  return Array.isArray(t) ? t.find((x) => x !== 'null') : (t as string | undefined);
}

function convert(element: Element, shape: XmlShape | undefined, path: string): unknown {
  if (element.attributes.nil === 'true') return null;
  const type = typeOf(shape);
  switch (type) {
    case 'array':
      if (element.children.length === 0) return element.text.trim() === '' ? [] : element.text;
      return element.children.map((c, i) => convert(c, shape?.items, `${path}[${i}]`));
    case 'object':
      if (element.children.length === 0) return element.text.trim() === '' ? {} : element.text;
      return members(element, shape, path);
    case 'integer':
    case 'number': {
      if (element.children.length > 0) return generic(element, path);
      const t = element.text.trim();
      if (t === '') return null;
      return /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(t) ? Number(t) : t;
    }
    case 'boolean': {
      if (element.children.length > 0) return generic(element, path);
      const t = element.text.trim();
      return t === 'true' ? true : t === 'false' ? false : t === '' ? null : t;
    }
    case 'string':
      return element.children.length > 0 ? generic(element, path) : element.text;
    default:
      return generic(element, path);
  }
}

function members(element: Element, shape: XmlShape | undefined, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const child of element.children) {
    const key = child.name === 'entry' && child.attributes.key !== undefined ? child.attributes.key : child.name;
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') throw errors.invalidBody(`The XML element '${path}.${key}' has a reserved name`);
    if (Object.prototype.hasOwnProperty.call(out, key)) throw errors.invalidBody(`The XML element '${path}.${key}' appears twice`);
    out[key] = convert(child, shape?.properties?.[key], `${path}.${key}`);
  }
  return out;
}

/** Without a schema: elements → object, `<item>`s → array, text → string. */
function generic(element: Element, path: string): unknown {
  if (element.attributes.nil === 'true') return null;
  if (element.children.length === 0) return element.text;
  if (element.children.every((c) => c.name === 'item')) return element.children.map((c, i) => generic(c, `${path}[${i}]`));
  return members(element, undefined, path);
}
