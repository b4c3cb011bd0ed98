/** A JSON object as parsed from a response: keys are known to exist only after a check. */
export type JsonObject = { readonly [key: string]: unknown };

export const isJsonObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);
const asObject = (value: unknown): JsonObject | undefined => (isJsonObject(value) ? value : undefined);
export const member = (value: unknown, key: string): unknown => asObject(value)?.[key];
export const inRange = (value: unknown, min: number, max: number): boolean => Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
export function optionalString(value: unknown, key: string): string | undefined {
  const found = member(value, key);
  return typeof found === 'string' ? found : undefined;
}

/** What `read` returns, or undefined when it throws. */
export function attempt<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** The parsed JSON, or undefined for text that is not JSON (no JSON text parses to undefined). */
export const parseJson = (text: string): unknown => attempt(() => JSON.parse(text) as unknown);
export const parseObject = (text: string): JsonObject | undefined => asObject(parseJson(text));

export function parseHttpURL(value: unknown): URL | undefined {
  const url = typeof value === 'string' && URL.canParse(value) ? new URL(value) : undefined;
  return url?.protocol === 'http:' || url?.protocol === 'https:' ? url : undefined;
}

/** `value` when it is an absolute http(s) URL: what a profile may hand an app for a link or an image (never `javascript:` or `data:`). */
export function httpURL(value: string | undefined): string | undefined {
  return value !== undefined && /^https?:/i.test(value) && URL.canParse(value) ? value : undefined;
}
