/**
 * Values remembered by text, bounded: past `max` texts the memory starts over, so hostile input
 * cannot grow it. For what a hot path derives again and again from the few texts clients send
 * (a `fields` list, a sort, a pattern, a word to suggest for).
 */
export class TextMemory<T> {
  private readonly known = new Map<string, T>();

  constructor(private readonly max = 1000) {}

  /** The value remembered for `text`, computed (and remembered) the first time. */
  get(text: string, compute: (text: string) => T): T {
    let value = this.known.get(text);
    if (value === undefined) {
      if (this.known.size >= this.max) this.known.clear();
      value = compute(text);
      this.known.set(text, value);
    }
    return value;
  }

  /** Forgets everything (what was remembered no longer holds). */
  clear(): void {
    this.known.clear();
  }
}

/** A function of a text, remembered in a `TextMemory`. */
export function memoByText<T>(compute: (text: string) => T, max = 1000): (text: string) => T {
  const memory = new TextMemory<T>(max);
  return (text) => memory.get(text, compute);
}
