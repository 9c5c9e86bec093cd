import { describe, expect, it } from 'vitest'
import {
  CLOSE_REASONS,
  CloseCode,
  DecodeError,
  FrameTooLargeError,
  closeCodeName,
  closeReason,
  isCloseCode,
  isCodecError,
  type CloseCodeName,
} from '../../../core/codec/index.js'

describe('close codes (docs/design.md §5)', () => {
  it('[§5 close codes] the table is pinned: numbers are part of the protocol', () => {
    expect(CloseCode).toEqual({
      BAD_FRAME: 4000,
      UNAUTHORIZED: 4001,
      TOKEN_EXPIRED: 4002,
      FORBIDDEN: 4003,
      TOO_LARGE: 4009,
      VERSION_MISMATCH: 4010,
      INVALID_VALUE: 4022,
      OVERLOADED: 4029,
      RESYNC_LIMIT: 4030,
      SHUTTING_DOWN: 4050,
    })
  })

  it('[§5 close codes] codes are unique, in 4000–4099, with a reason that fits a close frame', () => {
    const codes = Object.values(CloseCode)
    expect(new Set(codes).size).toBe(codes.length)
    for (const code of codes) {
      expect(code).toBeGreaterThanOrEqual(4000)
      expect(code).toBeLessThanOrEqual(4099)
      const reason = closeReason(code)
      expect(reason).toBe(CLOSE_REASONS[code])
      expect(reason.length).toBeGreaterThan(0)
      expect(new TextEncoder().encode(reason).length).toBeLessThanOrEqual(123)
    }
  })

  it('[§5 close codes] names and reasons resolve both ways; unknown codes get a generic reason', () => {
    for (const name of Object.keys(CloseCode) as CloseCodeName[]) expect(closeCodeName(CloseCode[name])).toBe(name)
    expect(closeReason(CloseCode.VERSION_MISMATCH)).toBe('protocol version mismatch')
    expect(isCloseCode(4000)).toBe(true)
    expect(isCloseCode(1000)).toBe(false)
    expect(closeCodeName(4098)).toBeUndefined()
    expect(closeReason(4098)).toBe('unknown close code 4098')
  })

  it('[§5 close codes] codec error codes name their close code', () => {
    const decodeError = new DecodeError('truncated')
    const tooLarge = new FrameTooLargeError(11, 10)
    expect(CloseCode[decodeError.code]).toBe(4000)
    expect(CloseCode[tooLarge.code]).toBe(4009)
    expect(decodeError).toBeInstanceOf(Error)
    expect(decodeError).toMatchObject({ name: 'DecodeError', code: 'BAD_FRAME', reason: 'truncated' })
    expect(tooLarge).toMatchObject({ name: 'FrameTooLargeError', code: 'TOO_LARGE', frameBytes: 11, maxFrameBytes: 10 })
    expect(isCodecError(decodeError)).toBe(true)
    expect(isCodecError(tooLarge)).toBe(true)
    expect(isCodecError(new Error('x'))).toBe(false)
  })
})
