/**
 * WebSocket close codes used by Meridian (docs/design.md §5). 4000–4099 is the private-use range we own.
 * The numbers are part of the protocol: never renumber or reuse one; add new codes at unused numbers.
 * Where one exists the number echoes a familiar status: 4001/4003/4029 the HTTP 401/403/429, 4009 WebSocket's
 * own 1009 (message too big).
 */
export const CloseCode = {
  /** A frame failed to decode (`DecodeError`). */
  BAD_FRAME: 4000,
  /** Missing or invalid credentials in the handshake. */
  UNAUTHORIZED: 4001,
  /**
   * The credentials have expired (at the handshake, or during the session when the token's `exp`
   * passes): get a fresh token and reconnect. Unlike UNAUTHORIZED, retrying with a new token helps.
   */
  TOKEN_EXPIRED: 4002,
  /** Credentials are valid but not allowed this role or resource. */
  FORBIDDEN: 4003,
  /** A frame exceeded the size limit (`FrameTooLargeError`). */
  TOO_LARGE: 4009,
  /** The handshake carried a protocol version we do not speak. */
  VERSION_MISMATCH: 4010,
  /**
   * A change carried a value this region does not store (core/values/storable-value.ts: not JSON, a
   * non-finite number, a `__proto__` key, over a value limit); nothing of its batch was logged.
   */
  INVALID_VALUE: 4022,
  /** The server is over capacity, or this connection's queue is over its bound; retry later with backoff. */
  OVERLOADED: 4029,
  /**
   * This connection made the server resend changes it already held (or had been sent) beyond its resync
   * budget, e.g. by announcing an empty version vector again and again; reconnect with backoff.
   */
  RESYNC_LIMIT: 4030,
  /** The process is shutting down; reconnect elsewhere or later. */
  SHUTTING_DOWN: 4050,
} as const

export type CloseCodeName = keyof typeof CloseCode
export type CloseCode = (typeof CloseCode)[CloseCodeName]

/**
 * Human-readable reasons, sent as the close frame's reason. Kept short: a close reason must fit
 * in 123 bytes of UTF-8.
 */
export const CLOSE_REASONS: Readonly<Record<CloseCode, string>> = Object.freeze({
  [CloseCode.BAD_FRAME]: 'bad frame',
  [CloseCode.UNAUTHORIZED]: 'unauthorized',
  [CloseCode.TOKEN_EXPIRED]: 'token expired',
  [CloseCode.FORBIDDEN]: 'forbidden',
  [CloseCode.INVALID_VALUE]: 'invalid value',
  [CloseCode.TOO_LARGE]: 'frame too large',
  [CloseCode.VERSION_MISMATCH]: 'protocol version mismatch',
  [CloseCode.OVERLOADED]: 'overloaded, retry later',
  [CloseCode.RESYNC_LIMIT]: 'too many resyncs, retry later',
  [CloseCode.SHUTTING_DOWN]: 'shutting down',
})

const NAMES = new Map<number, CloseCodeName>(
  (Object.keys(CloseCode) as CloseCodeName[]).map((name) => [CloseCode[name], name]),
)

/** True for a code in Meridian's table. */
export function isCloseCode(code: number): code is CloseCode {
  return NAMES.has(code)
}

/** The table name of a close code (`4000 -> 'BAD_FRAME'`), or undefined for codes not in the table. */
export function closeCodeName(code: number): CloseCodeName | undefined {
  return NAMES.get(code)
}

/**
 * The reason string for a close code; codes outside the table get a generic reason, so this is
 * safe to call with whatever code a socket reported.
 *
 * @example
 * ```ts
 * socket.close(CloseCode.TOO_LARGE, closeReason(CloseCode.TOO_LARGE)) // 'frame too large'
 * ```
 */
export function closeReason(code: number): string {
  return isCloseCode(code) ? CLOSE_REASONS[code] : `unknown close code ${code}`
}
