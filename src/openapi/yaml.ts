/**
 * JSON values as block-style YAML 1.2, fast enough for a large OpenAPI document (the `yaml`
 * package takes most of a second on the demo's, blocking the event loop). Strings are written
 * as JSON string literals, which YAML reads as the same double-quoted scalars; keys stay plain
 * when no YAML reader could take them for anything but a string.
 */

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
/** Plain scalars that YAML 1.1 readers take for booleans or null. */
const AMBIGUOUS = /^(true|false|null|yes|no|on|off|y|n)$/i;

function key(name: string): string {
  return PLAIN_KEY.test(name) && !AMBIGUOUS.test(name) ? name : JSON.stringify(name);
}

function isNested(value: unknown): value is object {
  return typeof value === 'object' && value !== null && (Array.isArray(value) ? value.length > 0 : Object.keys(value).length > 0);
}

function scalar(value: unknown): string {
  if (Array.isArray(value)) return '[]';
  if (typeof value === 'object' && value !== null) return '{}';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return 'null';
}

function write(value: object, indent: string, out: string[]): void {
  if (Array.isArray(value)) {
    for (const item of value) {
      if (!isNested(item)) {
        out.push(`${indent}- ${scalar(item)}`);
        continue;
      }
      // The item's first line goes after its dash: `- name: …`, `- - …`.
      const start = out.length;
      write(item, `${indent}  `, out);
      out[start] = `${indent}- ${(out[start] as string).slice(indent.length + 2)}`;
    }
    return;
  }
  for (const [name, member] of Object.entries(value)) {
    if (member === undefined) continue;
    if (isNested(member)) {
      out.push(`${indent}${key(name)}:`);
      write(member, `${indent}  `, out);
    } else out.push(`${indent}${key(name)}: ${scalar(member)}`);
  }
}

export function toYaml(value: unknown): string {
  if (!isNested(value)) return `${scalar(value)}\n`;
  const out: string[] = [];
  write(value, '', out);
  return `${out.join('\n')}\n`;
}
