/**
 * Typed errors of the codec. Their `code` strings are the names in the close-code table
 * (close-codes.ts), so a transport can close with `CloseCode[err.code]` without a mapping of its own.
 */

/**
 * The frame is malformed: truncated, trailing bytes, unknown message type, a value out of range,
 * invalid UTF-8. [PR1] `decodeMessage` throws nothing else for any input (besides
 * `FrameTooLargeError`), so a transport can catch, count and close with `BAD_FRAME`.
 *
 * @example
 * ```ts
 * try {
 *   handle(decodeMessage(frame))
 * } catch (err) {
 *   if (err instanceof DecodeError) socket.close(CloseCode.BAD_FRAME, closeReason(CloseCode.BAD_FRAME))
 *   else throw err
 * }
 * ```
 */
export class DecodeError extends Error {
  readonly code = 'BAD_FRAME' as const
  /** What was wrong, for logs; never shown to the other end verbatim. */
  readonly reason: string

  constructor(reason: string, options?: ErrorOptions) {
    super(`bad frame: ${reason}`, options)
    this.name = 'DecodeError'
    this.reason = reason
  }
}

/** [PR2] The frame is larger than the configured limit; it was refused without being decoded. */
export class FrameTooLargeError extends Error {
  readonly code = 'TOO_LARGE' as const
  readonly frameBytes: number
  readonly maxFrameBytes: number

  constructor(frameBytes: number, maxFrameBytes: number) {
    super(`frame of ${frameBytes} bytes exceeds the limit of ${maxFrameBytes} bytes`)
    this.name = 'FrameTooLargeError'
    this.frameBytes = frameBytes
    this.maxFrameBytes = maxFrameBytes
  }
}

/** Everything `decodeMessage` may throw. */
export type CodecError = DecodeError | FrameTooLargeError

export function isCodecError(err: unknown): err is CodecError {
  return err instanceof DecodeError || err instanceof FrameTooLargeError
}
