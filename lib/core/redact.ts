/** What every secret is replaced with. */
export const REDACTED = '[redacted]';

/** Shorter values are not treated as secrets: replacing them would mangle ordinary text. */
const MIN_SECRET_LENGTH = 8;

/**
 * The forms a secret can take when something echoes it: as sent, URL-encoded, form-encoded,
 * JSON-escaped.
 */
function variants(secret: string): string[] {
  const forms = new Set([secret, encodeURIComponent(secret), encodeURIComponent(secret).replace(/%20/g, '+'), JSON.stringify(secret).slice(1, -1)]);
  return [...forms].filter((form) => form.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

function scrub(text: string, forms: readonly string[]): string {
  let result = text;
  for (const form of forms) if (result.includes(form)) result = result.split(form).join(REDACTED);
  return result;
}

/** True when `text` holds one of `secrets` in any of the forms {@link redact} removes. */
export function holdsSecret(text: string, secrets: ReadonlyArray<string | undefined>): boolean {
  return secrets.some((secret) => secret !== undefined && secret.length >= MIN_SECRET_LENGTH && variants(secret).some((form) => text.includes(form)));
}

/**
 * The one redaction rule: every string in `value` (an error's message and stack, its own
 * properties such as `oauthError.data`, and its `cause` chain, however deep) loses each of the
 * `secrets` and their encoded forms. Errors are changed in place and returned, so that
 * `inspect`, `JSON.stringify` and log lines made from them later show `[redacted]` instead.
 */
export function redact<T>(value: T, secrets: ReadonlyArray<string | undefined>): T {
  const forms = secrets.flatMap((secret) => (secret && secret.length >= MIN_SECRET_LENGTH ? variants(secret) : []));
  if (forms.length === 0) return value;
  const seen = new Set<object>();
  const visit = (node: unknown): unknown => {
    if (typeof node === 'string') return scrub(node, forms);
    if (typeof node !== 'object' || node === null || seen.has(node)) return node;
    seen.add(node);
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i += 1) node[i] = visit(node[i]);
      return node;
    }
    for (const key of Reflect.ownKeys(node)) {
      const descriptor = Object.getOwnPropertyDescriptor(node, key);
      if (!descriptor || !('value' in descriptor) || !descriptor.writable) continue;
      const next = visit(descriptor.value);
      if (next !== descriptor.value) (node as Record<PropertyKey, unknown>)[key] = next;
    }
    return node;
  };
  return visit(value) as T;
}

