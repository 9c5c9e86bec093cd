/**
 * Child process of the [SG1] kill tests: writes to a file storage until it is SIGKILLed.
 *
 *   node --import tsx test/server/storage/crash-writer.ts <dir>
 *
 * Several writers append to log 'log' concurrently and save blob ['current'] (each save a new
 * version), and after each of their flushes resolves print `ack <lastIndex> <blobVersion>`: every
 * record up to lastIndex and a blob version >= blobVersion were acknowledged as durable.
 */
import { openFileStorage } from '../../../server/storage/file-adapter.js'
import { blobFor, recordFor } from './crash-records.js'

const dir = process.argv[2]
if (dir === undefined) {
  process.stderr.write('usage: crash-writer.ts <dir>\n')
  process.exit(2)
}

const storage = await openFileStorage(dir, { segmentBytes: 512 * 1024, blobCompactionMinBytes: 1024 * 1024 })
let nextIndex = (await storage.logBounds('log')).lastIndex + 1
let blobVersion = 0

async function writer(id: number): Promise<never> {
  for (let round = 0; ; round++) {
    const count = 1 + ((round + id) % 5)
    const records: Uint8Array[] = []
    // Indices are assigned in call order, so this writer's records are nextIndex.. as long as no
    // other writer calls append in between: claim them synchronously.
    for (let i = 0; i < count; i++) records.push(recordFor(nextIndex + i))
    nextIndex += count
    const appended = storage.append('log', records)
    let version = 0
    if ((round + id) % 3 === 0) {
      version = ++blobVersion
      void storage.save(['current'], blobFor(version))
    }
    const last = await appended
    await storage.flush()
    process.stdout.write(`ack ${last} ${version}\n`)
  }
}

process.stdout.write('ready\n')
await Promise.all([writer(0), writer(1), writer(2), writer(3)])
