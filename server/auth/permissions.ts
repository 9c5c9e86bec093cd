import type { Principal } from './principal.js'

/**
 * Who may read and write what (docs/security.md, "Permissions"): per collection, a `read` and a `write`
 * rule evaluated against the principal's claims and the document's id. Rules are JSON, so they live in
 * the config:
 *
 * - `true` / `false`;
 * - `{ "authenticated": true }`: any principal but `anonymous`;
 * - `{ "claim": "role", "equals": "admin" }`, `{ "claim": "role", "in": ["admin", "ops"] }`,
 *   `{ "claim": "teams", "contains": "red" }` (the claim is an array); a dotted path reads nested claims;
 * - `{ "docId": { "equals": "{sub}" } }`, `{ "docId": { "startsWith": "{claims.team}/" } }`: templates
 *   take `{sub}` and `{claims.<path>}` (a string or number claim; a missing one makes the rule false);
 * - `{ "anyOf": [rules] }`, `{ "allOf": [rules] }`, `{ "not": rule }`.
 *
 * A strict collection's `write` may instead name a rule per operation: `{ "put": …, "patch": …, "delete": … }`
 * (a missing one is `false`).
 */
export type Rule =
  | boolean
  | { readonly authenticated: true }
  | { readonly claim: string; readonly equals?: Scalar; readonly in?: readonly Scalar[]; readonly contains?: Scalar }
  | { readonly docId: { readonly equals?: string; readonly startsWith?: string } }
  | { readonly anyOf: readonly Rule[] }
  | { readonly allOf: readonly Rule[] }
  | { readonly not: Rule }

type Scalar = string | number | boolean

export type WriteOpKind = 'put' | 'patch' | 'delete'

export interface CollectionPermissions {
  readonly read: Rule
  readonly write: Rule | { readonly [op in WriteOpKind]?: Rule }
}

export const OPEN_PERMISSIONS: CollectionPermissions = Object.freeze({ read: true, write: true })

/** Every problem with a rule, each starting with its path; empty when the rule is well-formed. */
export function ruleProblems(rule: unknown, path: string): string[] {
  if (typeof rule === 'boolean') return []
  if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) return [`${path}: expected true, false or a rule object`]
  const r = rule as Record<string, unknown>
  const keys = Object.keys(r)
  const only = (allowed: readonly string[]) => keys.filter((k) => !allowed.includes(k)).map((k) => `${path}.${k}: unknown key`)
  if ('anyOf' in r || 'allOf' in r) {
    const key = 'anyOf' in r ? 'anyOf' : 'allOf'
    const list = r[key]
    if (!Array.isArray(list) || list.length === 0) return [`${path}.${key}: expected a non-empty array of rules`]
    return [...only([key]), ...list.flatMap((sub, i) => ruleProblems(sub, `${path}.${key}[${i}]`))]
  }
  if ('not' in r) return [...only(['not']), ...ruleProblems(r.not, `${path}.not`)]
  if ('authenticated' in r) return [...only(['authenticated']), ...(r.authenticated === true ? [] : [`${path}.authenticated: must be true`])]
  if ('claim' in r) {
    const problems = only(['claim', 'equals', 'in', 'contains'])
    if (typeof r.claim !== 'string' || r.claim === '') problems.push(`${path}.claim: expected a claim name`)
    const tests = ['equals', 'in', 'contains'].filter((k) => k in r)
    if (tests.length !== 1) problems.push(`${path}: a claim rule needs exactly one of equals, in, contains`)
    if ('equals' in r && !isScalar(r.equals)) problems.push(`${path}.equals: expected a string, number or boolean`)
    if ('contains' in r && !isScalar(r.contains)) problems.push(`${path}.contains: expected a string, number or boolean`)
    if ('in' in r && !(Array.isArray(r.in) && r.in.every(isScalar))) problems.push(`${path}.in: expected an array of strings, numbers or booleans`)
    return problems
  }
  if ('docId' in r) {
    const problems = only(['docId'])
    const d = r.docId as Record<string, unknown> | null
    if (typeof d !== 'object' || d === null || Array.isArray(d)) return [...problems, `${path}.docId: expected { equals } or { startsWith }`]
    const tests = Object.keys(d)
    if (tests.length !== 1 || !['equals', 'startsWith'].includes(tests[0] as string)) problems.push(`${path}.docId: expected exactly one of equals, startsWith`)
    for (const t of tests) if (typeof d[t] !== 'string') problems.push(`${path}.docId.${t}: expected a string (templates: {sub}, {claims.name})`)
    return problems
  }
  return [`${path}: expected one of authenticated, claim, docId, anyOf, allOf, not`]
}

/** Problems with a collection's `permissions`; `strict` allows a per-operation `write`. */
export function permissionsProblems(value: unknown, path: string, strict: boolean): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: expected { read, write }`]
  const p = value as Record<string, unknown>
  const problems = Object.keys(p)
    .filter((k) => k !== 'read' && k !== 'write')
    .map((k) => `${path}.${k}: unknown key`)
  if ('read' in p) problems.push(...ruleProblems(p.read, `${path}.read`))
  if ('write' in p) {
    const w = p.write
    const perOp = typeof w === 'object' && w !== null && !Array.isArray(w) && Object.keys(w).length > 0 && Object.keys(w).every((k) => k === 'put' || k === 'patch' || k === 'delete')
    if (perOp && !strict) problems.push(`${path}.write: rules per operation are for strict collections; a crdt collection has one write rule`)
    else if (perOp) for (const [op, rule] of Object.entries(w as Record<string, unknown>)) problems.push(...ruleProblems(rule, `${path}.write.${op}`))
    else problems.push(...ruleProblems(w, `${path}.write`))
  }
  return problems
}

/** Fills in what a checked `permissions` value left out (both default to `true`). */
export function toPermissions(value: { read?: unknown; write?: unknown } | undefined): CollectionPermissions {
  if (value === undefined) return OPEN_PERMISSIONS
  return { read: (value.read ?? true) as Rule, write: (value.write ?? true) as CollectionPermissions['write'] }
}

/** A claim by dotted path (`org.team`); undefined when absent. */
function claimAt(principal: Principal, path: string): unknown {
  let at: unknown = principal.claims
  for (const part of path.split('.')) {
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, part)) return undefined
    at = (at as Record<string, unknown>)[part]
  }
  return at
}

/** Filled templates per principal (a connection keeps its principal object for its whole life). */
const filled = new WeakMap<Principal, Map<string, string | null>>()

/** `{sub}` and `{claims.x}` filled in; null when a placeholder names nothing usable. */
function fillTemplate(template: string, principal: Principal): string | null {
  let cache = filled.get(principal)
  if (cache === undefined) filled.set(principal, (cache = new Map()))
  let value = cache.get(template)
  if (value === undefined) cache.set(template, (value = fillTemplateNow(template, principal)))
  return value
}

function fillTemplateNow(template: string, principal: Principal): string | null {
  let missing = false
  const out = template.replace(/\{(sub|claims\.[^}]+)\}/g, (_, name: string) => {
    const value = name === 'sub' ? principal.id : claimAt(principal, name.slice('claims.'.length))
    if (typeof value === 'string' || typeof value === 'number') return String(value)
    missing = true
    return ''
  })
  return missing ? null : out
}

/**
 * Whether `rule` allows `principal` on the document `docId`; with `docId` null, on every document of the
 * collection. A test of the document id cannot be answered for a whole collection: it counts as
 * unknown, and only a rule that holds whatever it is grants (so `{ "not": { "docId": … } }` never does).
 */
export function allows(rule: Rule, principal: Principal, docId: string | null): boolean {
  return evaluate(rule, principal, docId) === true
}

/** true / false, or null: depends on a document id not given. */
function evaluate(rule: Rule, principal: Principal, docId: string | null): boolean | null {
  if (typeof rule === 'boolean') return rule
  // Loops, not map(): this runs for every change a client is sent.
  if ('anyOf' in rule) {
    let unknown = false
    for (const r of rule.anyOf) {
      const result = evaluate(r, principal, docId)
      if (result === true) return true
      if (result === null) unknown = true
    }
    return unknown ? null : false
  }
  if ('allOf' in rule) {
    let unknown = false
    for (const r of rule.allOf) {
      const result = evaluate(r, principal, docId)
      if (result === false) return false
      if (result === null) unknown = true
    }
    return unknown ? null : true
  }
  if ('not' in rule) {
    const inner = evaluate(rule.not, principal, docId)
    return inner === null ? null : !inner
  }
  if ('authenticated' in rule) return principal.id !== 'anonymous'
  if ('claim' in rule) {
    const value = claimAt(principal, rule.claim)
    if (rule.equals !== undefined) return value === rule.equals
    if (rule.in !== undefined) return rule.in.includes(value as Scalar)
    return Array.isArray(value) && value.includes(rule.contains)
  }
  if (docId === null) return null
  const { equals, startsWith } = rule.docId
  const expected = fillTemplate((equals ?? startsWith) as string, principal)
  if (expected === null) return false
  return equals !== undefined ? docId === expected : docId.startsWith(expected)
}

function isScalar(value: unknown): value is Scalar {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
}
