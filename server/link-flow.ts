import { MessageType, type Message } from '../core/codec/index.js'
import type { Change, VersionVector } from '../core/types.js'

/** How often a paused link checks whether its socket drained. */
const DRAIN_POLL_MS = 20

/** What flow control needs from a link's transport. */
export interface FlowTransport {
  /** Bytes handed to the socket and not yet written to the network. */
  readonly bufferedAmount: number
  /** `paced`: the frame comes through flow control, which bounds the buffer itself. */
  send(bytes: Uint8Array, paced?: boolean): void
}

export interface LinkFlowOptions {
  readonly transport: FlowTransport
  /** ChangeBatches are held back while more than this many bytes wait to be written. */
  readonly highWaterBytes: number
  /** …and resume once fewer than this many do. */
  readonly lowWaterBytes: number
  /**
   * The link drained after batches were held back: make the mesh resend from `delivered` (what was
   * really written to this link, plus what the other side announced or sent).
   */
  readonly resync: (delivered: VersionVector) => void
  readonly encode: (message: Message) => Uint8Array
  /** Changes written to the link (for per-peer counters and the link's resync budget). */
  readonly onSent?: (changes: readonly Change[]) => void
  /** The stream was held back (for metrics). */
  readonly onPause?: () => void
}

/**
 * [PF4] Per-link flow control for the mesh's change stream. The mesh hands over a whole catch-up at
 * once (`sendMissing`); writing it all would grow the socket buffer without bound, and closing the
 * link instead would make the other side reconnect into the same burst forever. So while the
 * buffer is above the high-water mark ChangeBatches are dropped — they are all in the log — and
 * once it drained below the low-water mark the mesh is made to resend from what was really written:
 * a `VersionVector` for the link is replayed into it, which (docs/crdt.md) replaces its estimate of
 * the other side and sends exactly the difference. Control frames (acks, vectors) are never held.
 * That replay resends only what was never written, and is not the other side's announcement: it is
 * not charged to the link's resync budget (core/mesh/resync-budget.ts).
 *
 * `delivered` mirrors the mesh's per-peer estimate (`known`) but counts only batches actually
 * written: it starts from the vector the other side announced, and takes the max per origin of what
 * the other side sent and what we wrote, exactly as the mesh does.
 */
export class LinkFlow {
  private delivered = new Map<string, number>()
  private paused = false
  /**
   * Frames that must arrive, in order, waiting for the socket to drain: document states (a fetch or a
   * state transfer; they cannot be resent from the log like changes) met a full buffer, and every
   * frame but a replayable one after them. They were already in memory (the cut); writing them all
   * at once closed the link OVERLOADED, and the other side reconnected into the same answer.
   */
  private readonly held: Message[] = []
  private timer: NodeJS.Timeout | null = null
  private stopped = false

  constructor(private readonly options: LinkFlowOptions) {}

  get isPaused(): boolean {
    return this.paused
  }

  /** A frame from the other side, before the mesh sees it. */
  observeIncoming(message: Message): void {
    if (message.type === MessageType.VersionVector) {
      // Replace, not merge, like the mesh: the other side may hold less than we sent (it restarted).
      this.delivered = new Map(message.vector)
    } else if (message.type === MessageType.ChangeBatch) {
      for (const change of message.changes) this.advance(change.origin, change.seq)
    }
  }

  /** A frame from the mesh to the other side. */
  offer(message: Message): void {
    // Skipped runs move a client's position like changes do: held back (and replayed) with them.
    if (message.type !== MessageType.ChangeBatch && message.type !== MessageType.Skipped) {
      const full = this.options.transport.bufferedAmount >= this.options.highWaterBytes
      if (this.held.length > 0 || (message.type === MessageType.DocumentStates && full)) {
        if (this.stopped) return
        this.held.push(message)
        this.poll()
      } else this.write(message)
      return
    }
    if (this.paused || this.held.length > 0 || this.options.transport.bufferedAmount >= this.options.highWaterBytes) {
      this.pause()
      return
    }
    this.options.transport.send(this.options.encode(message), true)
    if (message.type === MessageType.Skipped) {
      for (const range of message.ranges) this.advance(range.origin, range.to)
      return
    }
    for (const change of message.changes) this.advance(change.origin, change.seq)
    this.options.onSent?.(message.changes)
  }

  stop(): void {
    this.stopped = true
    this.held.length = 0
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  private advance(origin: string, seq: number): void {
    if (seq > (this.delivered.get(origin) ?? 0)) this.delivered.set(origin, seq)
  }

  /** A frame that is not replayed: document states are paced by `held`, the rest are small. */
  private write(message: Message): void {
    this.options.transport.send(this.options.encode(message), message.type === MessageType.DocumentStates)
    // What a state transfer covers is delivered once its end is written (a resync must not ask for it again).
    if (message.type === MessageType.StateCovered) for (const [origin, seq] of message.vector) this.advance(origin, seq)
  }

  private pause(): void {
    if (this.paused || this.stopped) return
    this.paused = true
    this.options.onPause?.()
    this.poll()
  }

  /** Until the socket drained: held frames are written as it does, then paused batches are resynced. */
  private poll(): void {
    if (this.timer !== null || this.stopped) return
    this.timer = setInterval(() => this.drain(), DRAIN_POLL_MS)
    this.timer.unref()
  }

  private drain(): void {
    const transport = this.options.transport
    while (this.held.length > 0 && transport.bufferedAmount < this.options.highWaterBytes) this.write(this.held.shift() as Message)
    if (this.held.length > 0 || (this.paused && transport.bufferedAmount >= this.options.lowWaterBytes)) return
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    if (!this.paused || this.stopped) return
    this.paused = false
    this.options.resync(new Map(this.delivered))
  }
}
