import type { LogPosition } from './types.js'

/** `epoch:lsn`: the form a position takes as a token (write results, a read's `after`, headers). */
export function formatPosition(position: LogPosition): string {
  return `${position.epoch}:${position.lsn}`
}

/** Parses an `epoch:lsn` token; null for anything else. */
export function parsePosition(token: string): LogPosition | null {
  const match = typeof token === 'string' ? /^(\d{1,15}):(\d{1,15})$/.exec(token) : null
  return match ? { epoch: Number(match[1]), lsn: Number(match[2]) } : null
}

/** Orders positions by LSN, then epoch. */
export function comparePositions(a: LogPosition, b: LogPosition): number {
  return a.lsn !== b.lsn ? a.lsn - b.lsn : a.epoch - b.epoch
}
