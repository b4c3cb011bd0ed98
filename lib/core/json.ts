/** A JSON object as parsed from a response: keys are known to exist only after a check. */
export type JsonObject = { readonly [key: string]: unknown };

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value[key]`, when `value` is a JSON object. */
export function member(value: unknown, key: string): unknown {
  return isJsonObject(value) ? value[key] : undefined;
}

/** The string at `key` of `value`, or undefined when `value` is no object or the member no string. */
export function optionalString(value: unknown, key: string): string | undefined {
  const found = member(value, key);
  return typeof found === 'string' ? found : undefined;
}

/** `object.links[name].href` as Bitbucket nests its links, when every step is what it should be (and not empty). */
export function linkHref(object: unknown, name: string): string | undefined {
  return optionalString(member(member(object, 'links'), name), 'href') || undefined;
}

/** JSON.parse that reports failure instead of throwing. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** The JSON object `text` holds, or undefined when it holds anything else. */
export function parseObject(text: string): JsonObject | undefined {
  const parsed = parseJson(text);
  return parsed.ok && isJsonObject(parsed.value) ? parsed.value : undefined;
}

/** `value` parsed, when it is an absolute `http:` or `https:` URL. */
export function parseHttpURL(value: unknown): URL | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** `value` when it is an absolute http(s) URL: what a profile may hand an app to put in a link or an image (`javascript:` and `data:` URLs never). */
export function httpURL(value: string | undefined): string | undefined {
  return parseHttpURL(value) ? value : undefined;
}
