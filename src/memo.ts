/**
 * A function of a text, remembered: for what a hot path derives again and again from the few
 * texts clients send (a `fields` list, a sort, a pattern). The memory is bounded: past `max`
 * texts it starts over, so hostile input cannot grow it.
 */
export function memoByText<T>(compute: (text: string) => T, max = 1000): (text: string) => T {
  const known = new Map<string, T>();
  return (text) => {
    let value = known.get(text);
    if (value === undefined) {
      if (known.size >= max) known.clear();
      value = compute(text);
      known.set(text, value);
    }
    return value;
  };
}
