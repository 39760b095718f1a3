/**
 * Proactive negotiation (RFC 9110 §12): parses `Accept` with its q-values and picks the
 * best media type the server can produce; parses `Prefer` (RFC 7240).
 */

interface AcceptEntry {
  readonly type: string;
  readonly subtype: string;
  readonly q: number;
  readonly specificity: number;
  readonly order: number;
}

const acceptCache = new Map<string, AcceptEntry[]>();

export function parseAccept(header: string | undefined): AcceptEntry[] {
  if (!header) return [];
  const cached = acceptCache.get(header);
  if (cached) return cached;
  const entries: AcceptEntry[] = [];
  header.split(',').forEach((part, order) => {
    const [range, ...params] = part.trim().split(';');
    const [type, subtype] = (range ?? '').trim().toLowerCase().split('/');
    if (!type || !subtype) return;
    let q = 1;
    for (const p of params) {
      const [k, v] = p.trim().split('=');
      if (k?.trim().toLowerCase() === 'q') {
        const n = Number(v);
        q = Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : 0;
      }
    }
    const specificity = type === '*' ? 0 : subtype === '*' ? 1 : 2;
    entries.push({ type, subtype, q, specificity, order });
  });
  if (acceptCache.size > 500) acceptCache.clear();
  acceptCache.set(header, entries);
  return entries;
}

/** The q-value the Accept header gives a media type (the most specific matching range wins). */
function qualityOf(entries: readonly AcceptEntry[], mediaType: string): { q: number; order: number } {
  const [type, subtype] = mediaType.split('/');
  let best: AcceptEntry | undefined;
  for (const e of entries) {
    const matches = (e.type === '*' || e.type === type) && (e.subtype === '*' || e.subtype === subtype);
    if (matches && (!best || e.specificity > best.specificity)) best = e;
  }
  return best ? { q: best.q, order: best.order } : { q: 0, order: Infinity };
}

/**
 * Picks the best of `available` (listed in server preference order) for an Accept header.
 * No header, or `*∕*`, gives the first. Returns null when nothing is acceptable (406).
 */
export function negotiate(header: string | undefined, available: readonly string[]): string | null {
  const entries = parseAccept(header);
  if (entries.length === 0) return available[0] ?? null;
  let best: string | null = null;
  let bestQ = 0;
  let bestOrder = Infinity;
  for (const type of available) {
    const { q, order } = qualityOf(entries, type);
    // Higher q wins; on equal q the client's order, then the server's, decides.
    if (q > bestQ || (q === bestQ && q > 0 && order < bestOrder)) {
      best = type;
      bestQ = q;
      bestOrder = order;
    }
  }
  return best;
}

export interface Preferences {
  readonly return?: 'minimal' | 'representation';
  readonly count?: 'exact' | 'estimated' | 'none';
  readonly wait?: number;
  readonly handling?: 'strict' | 'lenient';
}

/** RFC 7240 `Prefer`: unknown or malformed preferences are ignored, as the RFC asks. */
export function parsePrefer(header: string | string[] | undefined): Preferences {
  if (!header) return {};
  const text = Array.isArray(header) ? header.join(',') : header;
  const out: { -readonly [K in keyof Preferences]: Preferences[K] } = {};
  for (const part of text.split(',')) {
    const [pref] = part.split(';');
    const [rawKey, rawValue] = (pref ?? '').split('=');
    const key = rawKey?.trim().toLowerCase();
    const value = rawValue?.trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    if (key === 'return' && (value === 'minimal' || value === 'representation')) out.return = value;
    else if (key === 'count' && (value === 'exact' || value === 'estimated' || value === 'none')) out.count = value;
    else if (key === 'wait' && value && /^\d{1,9}$/.test(value)) out.wait = Number(value);
    else if (key === 'handling' && (value === 'strict' || value === 'lenient')) out.handling = value;
  }
  return out;
}
