/** JSON merge patch (RFC 7396) over the top-level fields of an LWW document. */

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
}

/** Sets an own property even for names like "__proto__", which plain assignment would not. */
function define(target: Record<string, unknown>, name: string, value: unknown): void {
  Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true })
}

/** RFC 7396 MergePatch(target, patch). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch
  const out: Record<string, unknown> = {}
  if (isObject(target)) for (const [name, value] of Object.entries(target)) define(out, name, value)
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) delete out[name]
    else define(out, name, mergePatch(Object.hasOwn(out, name) ? out[name] : undefined, value))
  }
  return out
}

/**
 * The field writes of a merge patch against the current document, for `lwwPatchPayload`: a `null`
 * deletes the field (`undefined`), a nested object is merged into the field's current value (an LWW
 * register holds the whole field, so the merged value is written whole), anything else replaces it.
 *
 * @example
 * ```ts
 * patchFields({ a: 1, o: { x: 1, y: 2 } }, { a: null, o: { y: null, z: 3 } }) // { a: undefined, o: { x: 1, z: 3 } }
 * ```
 */
export function patchFields(current: Readonly<Record<string, unknown>> | null, patch: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const fields: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(patch)) {
    const before = current !== null && Object.hasOwn(current, name) ? current[name] : undefined
    define(fields, name, value === null ? undefined : mergePatch(before, value))
  }
  return fields
}
