/**
 * What recovery [SG1] reports, and the one repair shared by log segments and the blob file: cutting
 * a file back to the end of its last good record.
 */
import type { FileHandle } from 'node:fs/promises'
import type { MutableRecoveryStats } from './file-storage-types.js'
import type { ScanResult, ScanStopReason } from './record-format.js'

export function emptyRecoveryStats(): MutableRecoveryStats {
  return {
    logs: 0,
    records: 0,
    blobs: 0,
    bytesTruncated: 0,
    segmentsDropped: 0,
    truncations: [],
    warnings: [],
    durationMs: 0,
  }
}

export async function cutFile(
  handle: FileHandle,
  file: string,
  fileBytes: number,
  result: ScanResult,
  stats: MutableRecoveryStats,
): Promise<void> {
  const reason = result.stop as ScanStopReason
  const droppedBytes = fileBytes - result.validBytes
  await handle.truncate(result.validBytes)
  stats.bytesTruncated += droppedBytes
  stats.truncations.push({ file, offset: result.validBytes, droppedBytes, reason })
  if (reason !== 'torn') {
    stats.warnings.push(
      `${file}: record at offset ${result.validBytes} fails its ${reason === 'checksum' ? 'checksum' : 'format check'}; ` +
        `dropped it and the ${droppedBytes} bytes from there on (expected after a crash mid-write, corruption otherwise)`,
    )
  }
}
