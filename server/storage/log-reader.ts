/** Range reads of a log: one positional read per segment touched [PF3], checked record by record. */
import { StorageError } from '../../core/storage/adapter.js'
import type { LogState, Segment } from './file-storage-types.js'
import { readFully } from './fs-util.js'
import { findSegment, lastIndexOf, segmentHandle } from './log-segments.js'
import { recordChecksumOk, RECORD_HEADER_BYTES } from './record-format.js'

export async function readRange(state: LogState, fromIndex: number, toIndex: number | undefined): Promise<Uint8Array[]> {
  if (fromIndex < state.first) {
    throw new StorageError('pruned', `log '${state.name}' starts at ${state.first}; ${fromIndex} was pruned`)
  }
  const last = lastIndexOf(state)
  const to = toIndex === undefined ? last : Math.min(toIndex, last)
  if (fromIndex > to) return []
  const out: Uint8Array[] = []
  let index = fromIndex
  let at = findSegment(state, index)
  while (index <= to) {
    const seg = state.segments[at++] as Segment
    const count = seg.offsets.length
    const a = index - seg.base
    const b = Math.min(to, seg.base + count - 1) - seg.base
    const start = seg.offsets[a] as number
    const end = b + 1 < count ? (seg.offsets[b + 1] as number) : seg.size
    // One positional read of exactly the range [PF3], into a buffer of its own (not Buffer's pool),
    // which the returned records are views of.
    const bytes = Buffer.allocUnsafeSlow(end - start)
    await readFully(await segmentHandle(state, seg), bytes, 0, bytes.length, start)
    let pos = 0
    for (let k = a; k <= b; k++) {
      const length = pos + RECORD_HEADER_BYTES <= bytes.length ? bytes.readUInt32LE(pos + 4) : -1
      if (length < 0 || pos + RECORD_HEADER_BYTES + length > bytes.length || !recordChecksumOk(bytes, pos, length)) {
        throw new StorageError('io', `log '${state.name}' record ${seg.base + k} fails its checksum (${seg.path})`)
      }
      out.push(new Uint8Array(bytes.buffer, bytes.byteOffset + pos + RECORD_HEADER_BYTES, length))
      pos += RECORD_HEADER_BYTES + length
    }
    index = seg.base + b + 1
  }
  return out
}
