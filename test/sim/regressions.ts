import type { DocType } from '../../core/types.js'
import type { Topology } from './topology.js'

/**
 * Seeds that once broke a rule, or that reach a rare path, replayed in every `npm test`.
 * Add one whenever the simulator finds a bug: the seed, the case, and what it found.
 */
export const REGRESSION_SEEDS: readonly { docType: DocType; topology: Topology; seed: number; found: string; refuseClientChanges?: boolean }[] = [
  // These reach "crash before fsync, restart, write before re-dialling": the runs that catch a mesh
  // that sends its own changes before they are durable (its seqs are then reused after the crash).
  { docType: 'lww', topology: 'mesh', seed: 4, found: 'seq reuse after crash-before-fsync (EagerSenderMesh)' },
  { docType: 'yjs', topology: 'mesh', seed: 9, found: 'seq reuse after crash-before-fsync (EagerSenderMesh)' },
  { docType: 'automerge', topology: 'mesh', seed: 9, found: 'seq reuse after crash-before-fsync (EagerSenderMesh)' },
  // Yjs left structs pending forever for one delivery order: a replica's text stayed empty (fixed by
  // YjsReplica retrying pending structs itself).
  { docType: 'yjs', topology: 'mesh', seed: 748643952, found: 'Yjs never retried pending structs: [CV1] replay diverged' },
  // Seed 0 left lib0's generator stuck at zero: every Yjs replica drew client id 0 (fixed in SimRandom).
  { docType: 'yjs', topology: 'mesh', seed: 0, found: 'degenerate generator for seed 0: Yjs client id collisions' },
  // A torn snapshot round stored a document holding an unsynced own change (#8); after a restart the log's
  // older own changes were replayed into it and lowered its own-seq mark, the next torn round stored that,
  // and the following restart numbered a new write #8 again (fixed: marks only grow).
  { docType: 'automerge', topology: 'mesh', seed: 1238372780, found: 'own-seq mark lowered by log replay: seq reused after torn rounds' },
  // A snapshot round took a document between the part of a state transfer that held it and the
  // StateCovered that raised its remote-timestamp mark; the mark was never stored, and after a restart
  // the node wrote before a change it had seen (fixed: the StateCovered marks its documents changed).
  { docType: 'automerge', topology: 'star', seed: 1840942524, found: 'remote-timestamp mark of a transferred document not stored: [HLC2]' },
  // A client's change waited in its region's gap buffer for a predecessor the region then learnt from
  // another region's log; nothing drained the buffer, and every resend counted as a duplicate (fixed:
  // the buffer drains from whatever the region holds of the client).
  { docType: 'automerge', topology: 'mesh', seed: 1023947530, found: 'client change stuck behind a gap learnt elsewhere: never logged' },
  // A client closed a document; its region skipped the runs that touched it, and the client's clock moved
  // past their timestamps. Its store kept the covered vector (which counts those runs) but no timestamp
  // of them, so after a restart, with its wall clock behind, it wrote before changes it had seen (fixed:
  // the store keeps the clock's high-water mark with the covered vector).
  { docType: 'lww', topology: 'chain', seed: 1621275032, found: 'clock of skipped runs lost across a restart: [HLC2]' },
  // A client's region skipped a run of a document it did not sync; the run waited in the client's gap
  // buffer, the client moved to another region and opened the document there, then the run drained and
  // counted as held the change the new region sent, which was dropped as a duplicate: the client never
  // converged (fixed: a session's waiting skips end with it).
  { docType: 'yjs', topology: 'star', seed: 494202753, found: 'a skipped run outlived its session and swallowed a change: [CV2]' },
  // Regions refusing some client writes ([RW1] [RW2]): a client lost the answer to a refused write with its
  // connection, and the region that refused it forgot the refusal at a restart, because it rebuilt what it
  // had to tell only from the log changes it replayed: one a stored document already covered (1390615706),
  // or one a snapshot round had compacted out of the log (65396601, 590803375). The client showed the
  // refused edit forever (fixed: rebuilt from every logged void entry, and stored with each snapshot round).
  { docType: 'yjs', topology: 'star', seed: 1390615706, refuseClientChanges: true, found: 'refusal forgotten at a restart: its void entry covered by a stored document' },
  { docType: 'yjs', topology: 'mesh', seed: 65396601, refuseClientChanges: true, found: 'refusal forgotten at a restart: its void entry compacted away' },
  { docType: 'automerge', topology: 'star', seed: 590803375, refuseClientChanges: true, found: 'refusal forgotten at a restart: its void entry compacted away' },
  // A Rejected carried the region's copy of the document while it held the region's own write not yet
  // durable; the region crashed and lost the write, the client kept it (fixed: such a copy waits [CV4]).
  { docType: 'yjs', topology: 'mesh', seed: 21, refuseClientChanges: true, found: 'a Rejected copy held an own write a crash then lost' },
]
