import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isNotFound, writeFileAtomic } from './fs-util.js'

/** Every store directory names its format and version in this file. */
export const FORMAT_FILE = 'FORMAT'

export interface FormatClaim {
  /** The FORMAT file's exact content, naming the format and its version. */
  readonly content: string
  /** Names this format may leave in its directory (so a half-created store can be claimed again). */
  readonly isOurs: (name: string) => boolean
  /** What the directory would be, for the refusal ("a Meridian strict store"). */
  readonly kind: string
  readonly error: (message: string) => Error
}

/**
 * Claims `dir` for one storage format: an existing FORMAT file must say exactly `content`; without
 * one (a new store, or one whose creation crashed first) the directory may hold only the format's
 * own names — a mistyped dataDir must not end up with our files among someone else's — and FORMAT is
 * written atomically.
 */
export async function claimFormat(dir: string, claim: FormatClaim): Promise<void> {
  const path = join(dir, FORMAT_FILE)
  let content: string | null = null
  try {
    content = await readFile(path, 'utf8')
  } catch (err) {
    if (!isNotFound(err)) throw err
  }
  if (content !== null) {
    if (content !== claim.content) throw claim.error(`${path} says ${JSON.stringify(content.slice(0, 60))}; expected ${JSON.stringify(claim.content)}`)
    return
  }
  const foreign = (await readdir(dir)).filter((name) => name !== FORMAT_FILE && !claim.isOurs(name))
  if (foreign.length > 0) throw claim.error(`${dir} is not empty and is not ${claim.kind} (found ${foreign.slice(0, 3).join(', ')})`)
  await writeFileAtomic(path, Buffer.from(claim.content, 'utf8'))
}

/** `<n>` zero-padded to `digits` plus `suffix`: numbered files (log segments) that sort by name. */
export function numberedFileName(n: number, digits: number, suffix: string): string {
  return `${String(n).padStart(digits, '0')}${suffix}`
}

/** The number in a name made by {@link numberedFileName} (≥ 1), or undefined for any other name. */
export function parseNumberedFileName(name: string, digits: number, suffix: string): number | undefined {
  if (name.length !== digits + suffix.length || !name.endsWith(suffix)) return undefined
  const digitsPart = name.slice(0, digits)
  if (!/^\d+$/.test(digitsPart)) return undefined
  const n = Number(digitsPart)
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined
}
