import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { CrdtPayloadError } from './errors.js'
import { readFieldWrite, readStamp, writeFieldWrite, writeStamp, type LwwFieldWrite, type LwwStamp } from './lww-payload.js'

/**
 * Binary format of an `lww` document state (`LwwReplica.encodeState`, lib0 encoding like the payload,
 * lww-payload.ts):
 *
 * ```
 * varUint   format version (1)
 * uint8     flags: bit 0 = has cleared (newest document delete), bit 1 = has lastWrite (newest put/patch)
 * stamp     cleared, when flagged: varUint wallMs, varUint counter, varString node, varString origin
 * stamp     lastWrite, when flagged
 * varUint   number of field registers, then for each, in field-name order:
 *   stamp     the register's stamp (HLC and origin of the change that wrote it)
 *   write     the field as a payload holds it: varString name, uint8 flags, value (writeAny), base
 * ```
 *
 * Registers are written in field-name order, so two replicas holding the same registers encode the
 * same bytes whatever order they learnt them in.
 */
export const LWW_STATE_VERSION = 1

const HAS_CLEARED = 1
const HAS_LAST_WRITE = 2

/** One field register as a state carries it: the write that is the newest for its field, and its stamp. */
export interface LwwStateRegister {
  readonly stamp: LwwStamp
  readonly write: LwwFieldWrite
}

export interface LwwState {
  readonly cleared: LwwStamp | null
  readonly lastWrite: LwwStamp | null
  readonly registers: readonly LwwStateRegister[]
}

export function encodeLwwState(state: LwwState): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, LWW_STATE_VERSION)
  encoding.writeUint8(encoder, (state.cleared !== null ? HAS_CLEARED : 0) | (state.lastWrite !== null ? HAS_LAST_WRITE : 0))
  if (state.cleared !== null) writeStamp(encoder, state.cleared)
  if (state.lastWrite !== null) writeStamp(encoder, state.lastWrite)
  const registers = [...state.registers].sort(({ write: a }, { write: b }) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0))
  encoding.writeVarUint(encoder, registers.length)
  for (const register of registers) {
    writeStamp(encoder, register.stamp)
    writeFieldWrite(encoder, register.write)
  }
  return encoding.toUint8Array(encoder)
}

/**
 * Decodes a whole state before anything is merged, so a malformed one changes nothing. Values go
 * through the same reader as payload values (deep-frozen, never undefined).
 * @throws CrdtPayloadError on any malformed input
 */
export function decodeLwwState(bytes: Uint8Array): LwwState {
  try {
    const decoder = decoding.createDecoder(bytes)
    const version = decoding.readVarUint(decoder)
    if (version !== LWW_STATE_VERSION) throw new CrdtPayloadError(`lww state: unknown format version ${version}`)
    const flags = decoding.readUint8(decoder)
    if ((flags & ~(HAS_CLEARED | HAS_LAST_WRITE)) !== 0) throw new CrdtPayloadError(`lww state: unknown flags ${flags}`)
    const cleared = (flags & HAS_CLEARED) !== 0 ? readStamp(decoder) : null
    const lastWrite = (flags & HAS_LAST_WRITE) !== 0 ? readStamp(decoder) : null
    const count = decoding.readVarUint(decoder)
    // Every register takes at least six bytes, so a huge count in a short buffer is rejected up front.
    if (count > bytes.length) throw new CrdtPayloadError(`lww state: ${count} registers cannot fit in ${bytes.length} bytes`)
    const registers: LwwStateRegister[] = []
    const seen = new Set<string>()
    for (let i = 0; i < count; i++) {
      const stamp = readStamp(decoder)
      const write = readFieldWrite(decoder, 'lww state')
      if (seen.has(write.field)) throw new CrdtPayloadError(`lww state: field ${JSON.stringify(write.field)} held twice`)
      seen.add(write.field)
      registers.push({ stamp, write })
    }
    if (decoding.hasContent(decoder)) throw new CrdtPayloadError('lww state: trailing bytes')
    return { cleared, lastWrite, registers }
  } catch (error) {
    if (error instanceof CrdtPayloadError) throw error
    throw new CrdtPayloadError(`lww state: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
  }
}
