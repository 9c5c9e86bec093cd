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
 * `current` is the document, or a lookup of one field's current value (`undefined` when it has none,
 * e.g. `LwwReplica.get`): only the fields the patch names are read, so with a lookup a patch costs its
 * fields, not the document [PF3].
 *
 * @example
 * ```ts
 * patchFields({ a: 1, o: { x: 1, y: 2 } }, { a: null, o: { y: null, z: 3 } }) // { a: undefined, o: { x: 1, z: 3 } }
 * patchFields((field) => replica.get(field), { o: { y: null } })
 * ```
 */
export function patchFields(
  current: Readonly<Record<string, unknown>> | ((field: string) => unknown) | null,
  patch: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const valueOf =
    typeof current === 'function'
      ? current
      : (name: string): unknown => (current !== null && Object.hasOwn(current, name) ? current[name] : undefined)
  const fields: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(patch)) {
    define(fields, name, value === null ? undefined : mergePatch(valueOf(name), value))
  }
  return fields
}

/**
 * What a PATCH answers instead of the whole document: each top-level field the patch names, as
 * `lookup` gives it after the write (a merged object whole), `null` for one that is now deleted. Read
 * right after the local commit: replacing those fields of the document before the write (deleting the
 * null ones) gives the document after it.
 *
 * @example
 * ```ts
 * patchedFields({ done: true, title: null }, (field) => replica.get(field)) // { done: true, title: null }
 * ```
 */
export function patchedFields(patch: Readonly<Record<string, unknown>>, lookup: (field: string) => unknown): Record<string, unknown> {
  const fields: Record<string, unknown> = {}
  for (const name of Object.keys(patch)) define(fields, name, lookup(name) ?? null)
  return fields
}
