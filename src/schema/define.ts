/** `defineApi` gives a module schema its types; it returns its argument unchanged. */
import type { ApiSpec } from './types.js';

export function defineApi<const T extends ApiSpec>(spec: T): T {
  return spec;
}
