/** A JSON object as parsed from a response: keys are known to exist only after a check. */
export type JsonObject = { readonly [key: string]: unknown };

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The string at `key`, or undefined when it is absent or not a string. */
export function optionalString(object: JsonObject, key: string): string | undefined {
  const value = object[key];
  return typeof value === 'string' ? value : undefined;
}

/** `object.links[name].href` as Bitbucket nests its links, when every step is what it should be. */
export function linkHref(object: JsonObject, name: string): string | undefined {
  const links = object['links'];
  if (!isJsonObject(links)) return undefined;
  const link = links[name];
  if (!isJsonObject(link)) return undefined;
  const href = optionalString(link, 'href');
  return href === '' ? undefined : href;
}

/** JSON.parse that reports failure as undefined instead of throwing. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
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
