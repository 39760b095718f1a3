/** Text helpers of search (SPEC §4.6): folding for case- and accent-insensitive matching, edit distance for suggestions. */

export function foldText(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** Levenshtein distance ≤ max, with an early exit (suggestions, SPEC §4.6). */
export function editDistanceAtMost(a: string, b: string, max: number): boolean {
  if (Math.abs(a.length - b.length) > max) return false;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur.push(v);
      if (v < best) best = v;
    }
    if (best > max) return false;
    prev = cur;
  }
  return (prev[b.length] as number) <= max;
}

/** The words of a text, folded: what the search indexes of every store hold and match (SPEC §4.6). */
export function wordsOf(text: string): string[] {
  return foldText(text).split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0);
}

/** The distinct three-character slices of a word: candidates for close words share one (like pg_trgm). */
export function trigramsOf(word: string): string[] {
  return [...new Set(Array.from({ length: Math.max(0, word.length - 2) }, (_, i) => word.slice(i, i + 3)))];
}
