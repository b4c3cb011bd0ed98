/** A JSON object as parsed from a response: keys are known to exist only after a check. */
export type JsonObject = { readonly [key: string]: unknown };

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function member(value: unknown, key: string): unknown {
  return isJsonObject(value) ? value[key] : undefined;
}

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

export function parseObject(text: string): JsonObject | undefined {
  const parsed = parseJson(text);
  return isJsonObject(parsed) ? parsed : undefined;
}

export function parseHttpURL(value: unknown): URL | undefined {
  const url = typeof value === 'string' && URL.canParse(value) ? new URL(value) : undefined;
  return url?.protocol === 'http:' || url?.protocol === 'https:' ? url : undefined;
}

/** `value` when it is an absolute http(s) URL: what a profile may hand an app for a link or an image (never `javascript:` or `data:`). */
export function httpURL(value: string | undefined): string | undefined {
  return value !== undefined && /^https?:/i.test(value) && URL.canParse(value) ? value : undefined;
}
