import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import WebSocket from 'ws'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as Y from 'yjs'
import { MessageType, type EphemeralMessage } from '../core/codec/index.js'
import { checkYjsUpdate, YjsReplica } from '../core/crdt/yjs.js'
import type { ServerConfig } from './config.js'
import type { Logger } from './logger.js'
import { WriteError } from './region/types.js'
import type { RegionNode } from './region-node.js'
import { closeSocket as close, FOREIGN_UNAVAILABLE, keepAlive, refuseOversizeFrames } from './foreign-socket.js'
import { clientFrameBytes } from './limits.js'

/**
 * `ws /yjs/:room` (docs/server.md, "Yjs rooms"): the y-protocols of y-websocket, so that an unmodified
 * `WebsocketProvider` edits a document of the collection `yjsRoomCollection` — persisted, and
 * replicated to every region like any change this region writes.
 *
 * Messages (lib0 encoding, as y-websocket): `0` sync (step 1: a state vector, answered with step 2, the
 * update it lacks; step 2 and `2` update: an update to apply), `1` awareness, `3` query awareness.
 * An update a client sends is checked before it is logged (`checkYjsUpdate`); the region logs it as
 * its own change, so it is stored and replicated; every change the room's document takes, from here or
 * from another region, goes to the room's connections as an update.
 */

const MESSAGE_SYNC = 0
const MESSAGE_AWARENESS = 1
const MESSAGE_QUERY_AWARENESS = 3
const SYNC_STEP_1 = 0
const SYNC_STEP_2 = 1
const SYNC_UPDATE = 2
/** The empty update (no structs, no deletions): a provider sends it as step 2 when it has nothing new. */
const EMPTY_UPDATE_BYTES = 2

/**
 * Close codes. y-websocket's provider stops reconnecting on 4400–4499 (reconnecting cannot help) and
 * retries everything else with backoff.
 */
export const YjsCloseCode = {
  /** A message that does not decode, or an update Meridian refuses. */
  BAD_MESSAGE: 4400,
  /** A frame above `limits.maxClientFrameBytes` (refused from its header), or an update that would grow the room past `limits.maxDocumentBytes`. Not retried by y-websocket. */
  TOO_LARGE: 4413,
  /** The server has no room collection configured, or the room name is not one. */
  NO_SUCH_ROOM: 4404,
  /** The room's document exists with another type. */
  WRONG_TYPE: 4409,
  /** The node is recovering, shutting down, or its storage failed: try again later. */
  UNAVAILABLE: FOREIGN_UNAVAILABLE,
  /** The connection does not read what it is sent [PF4]: reconnect and sync afresh. */
  OVERLOADED: 4508,
} as const

/** Ephemeral topics between regions: awareness updates of local clients, and a new room's query for them. */
const AWARENESS_TOPIC = 'yjs-awareness'
const AWARENESS_QUERY_TOPIC = 'yjs-awareness-query'
/** Origins of awareness changes that are not a local connection's. */
const FROM_PEER = Symbol('a peer region')
const LOCAL_CLOSE = Symbol('a local connection closed')

/** Longest room name (a document id). */
const MAX_ROOM_BYTES = 512

interface Room {
  readonly name: string
  readonly replica: YjsReplica
  readonly awareness: awarenessProtocol.Awareness
  /** Each connection and the awareness client ids it controls. */
  readonly conns: Map<WebSocket, Set<number>>
  /** Updates the document took in this event-loop turn, with the connection each came from, if any. */
  readonly pending: { readonly update: Uint8Array; readonly from: WebSocket | null }[]
  flushScheduled: boolean
  readonly stop: () => void
}

export interface YjsRoomsOptions {
  readonly config: ServerConfig
  readonly node: RegionNode
  readonly logger: Logger
}

export class YjsRooms {
  private readonly rooms = new Map<string, Room>()
  /** The connection whose update is being committed: the document's update event skips it. */
  private applyingFrom: WebSocket | null = null

  private readonly stopEphemeral: () => void

  constructor(private readonly options: YjsRoomsOptions) {
    this.stopEphemeral = options.node.onEphemeral((message) => this.fromPeer(message))
  }

  /** Takes a WebSocket upgraded on `/yjs/<room>`; `room` is the decoded rest of the path. */
  accept(ws: WebSocket, room: string): void {
    const collection = this.options.config.yjsRoomCollection
    if (collection === null) return close(ws, YjsCloseCode.NO_SUCH_ROOM, 'this server has no Yjs rooms (config: yjsRoomCollection)')
    if (room === '' || Buffer.byteLength(room) > MAX_ROOM_BYTES) return close(ws, YjsCloseCode.NO_SUCH_ROOM, `a room name is 1 to ${MAX_ROOM_BYTES} bytes`)
    let entry: Room
    try {
      entry = this.room(collection, room)
    } catch (err) {
      if (err instanceof WriteError && err.code === 'UNSUPPORTED_FOR_TYPE') return close(ws, YjsCloseCode.WRONG_TYPE, err.message)
      return close(ws, YjsCloseCode.UNAVAILABLE, err instanceof Error ? err.message : String(err))
    }
    entry.conns.set(ws, new Set())
    ws.binaryType = 'nodebuffer'
    refuseOversizeFrames(ws, clientFrameBytes(this.options.config))
    keepAlive(ws, this.options.config.heartbeatIntervalMs)
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return close(ws, YjsCloseCode.BAD_MESSAGE, 'y-protocols messages are binary')
      this.receive(entry, ws, new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    })
    ws.on('close', () => this.leave(entry, ws))
    ws.on('error', () => ws.terminate())
    // As y-websocket's server: our state vector (the provider answers with what we lack), and who is here.
    this.send(entry, ws, encodeSync(SYNC_STEP_1, Y.encodeStateVector(entry.replica.doc)))
    const states = entry.awareness.getStates()
    if (states.size > 0) this.send(entry, ws, encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(entry.awareness, [...states.keys()])))
  }

  /** Closes every room's connections (the node is shutting down: a provider reconnects elsewhere). */
  close(): void {
    this.stopEphemeral()
    for (const room of [...this.rooms.values()]) for (const ws of [...room.conns.keys()]) close(ws, 1001, 'the node is shutting down')
  }

  private room(collection: string, name: string): Room {
    const existing = this.rooms.get(name)
    if (existing !== undefined) return existing
    const replica = this.options.node.replicaOf(collection, name, 'yjs')
    if (!(replica instanceof YjsReplica)) throw new WriteError('UNSUPPORTED_FOR_TYPE', `room ${JSON.stringify(name)} is not a Yjs document`)
    const awareness = new awarenessProtocol.Awareness(replica.doc)
    awareness.setLocalState(null)
    const onAwareness = ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown): void => {
      const changed = [...added, ...updated, ...removed]
      const controlled = origin instanceof WebSocket ? room.conns.get(origin) : undefined
      if (controlled !== undefined) {
        for (const id of added) controlled.add(id)
        for (const id of removed) controlled.delete(id)
      }
      // What this region's own clients said goes to the other regions (never what a peer said: in a
      // full mesh each region hears it once, from the region of the client).
      if (origin !== FROM_PEER) this.relay(room, AWARENESS_TOPIC, awarenessProtocol.encodeAwarenessUpdate(awareness, changed))
      // To every connection, the sender's too: a provider alone in a room hears its own renewals, which
      // keep its "no message in 30 s" watchdog quiet.
      const message = encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(awareness, changed))
      for (const ws of room.conns.keys()) this.send(room, ws, message)
    }
    // Every change the document takes, whoever made it: a local commit, a peer's change, a state
    // transfer. Sent once per event-loop turn, merged [PF1]: under load a turn brings many updates, and
    // one frame per connection instead of one per update saves a send (a syscall) per update and receiver.
    const onUpdate = (update: Uint8Array): void => {
      room.pending.push({ update, from: this.applyingFrom })
      if (room.flushScheduled) return
      room.flushScheduled = true
      setImmediate(() => this.flush(room))
    }
    awareness.on('update', onAwareness)
    replica.doc.on('update', onUpdate)
    const room: Room = {
      name,
      replica,
      awareness,
      conns: new Map(),
      pending: [],
      flushScheduled: false,
      stop: () => {
        replica.doc.off('update', onUpdate)
        awareness.off('update', onAwareness)
        awareness.destroy()
      },
    }
    this.rooms.set(name, room)
    // The users connected to this room in other regions: they renew every 15 s, but a new room asks.
    this.relay(room, AWARENESS_QUERY_TOPIC, new Uint8Array(0))
    return room
  }

  /** Awareness from another region: an update to apply, or a query for what our clients said. */
  private fromPeer(message: EphemeralMessage): void {
    const room = this.rooms.get(message.docId)
    if (room === undefined || message.collection !== room.replica.collection) return
    try {
      if (message.topic === AWARENESS_TOPIC) awarenessProtocol.applyAwarenessUpdate(room.awareness, message.payload, FROM_PEER)
      else if (message.topic === AWARENESS_QUERY_TOPIC) {
        const local = [...room.conns.values()].flatMap((ids) => [...ids])
        if (local.length > 0) this.relay(room, AWARENESS_TOPIC, awarenessProtocol.encodeAwarenessUpdate(room.awareness, local))
      }
    } catch (err) {
      this.options.logger.warn(`yjs room ${room.name}: a peer's awareness update did not apply: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  private relay(room: Room, topic: string, payload: Uint8Array): void {
    this.options.node.relayEphemeral({ type: MessageType.Ephemeral, topic, collection: room.replica.collection, docId: room.name, payload })
  }

  private receive(room: Room, ws: WebSocket, bytes: Uint8Array): void {
    try {
      const decoder = decoding.createDecoder(bytes)
      const type = decoding.readVarUint(decoder)
      if (type === MESSAGE_SYNC) {
        const step = decoding.readVarUint(decoder)
        const payload = decoding.readVarUint8Array(decoder)
        if (step === SYNC_STEP_1) {
          this.send(room, ws, encodeSync(SYNC_STEP_2, Y.encodeStateAsUpdate(room.replica.doc, payload)))
        } else if (step === SYNC_STEP_2 || step === SYNC_UPDATE) {
          this.commit(room, ws, payload)
        } else throw new Error(`unknown sync message ${step}`)
      } else if (type === MESSAGE_AWARENESS) {
        awarenessProtocol.applyAwarenessUpdate(room.awareness, decoding.readVarUint8Array(decoder), ws)
      } else if (type === MESSAGE_QUERY_AWARENESS) {
        this.send(room, ws, encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(room.awareness, [...room.awareness.getStates().keys()])))
      } else throw new Error(`unknown message type ${type}`)
    } catch (err) {
      if (err instanceof WriteError) return close(ws, err.code === 'TOO_LARGE' ? YjsCloseCode.TOO_LARGE : YjsCloseCode.UNAVAILABLE, err.message)
      close(ws, YjsCloseCode.BAD_MESSAGE, `bad message: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  /** Logs a client's update as this region's change: stored, replicated, and sent to the room's others. */
  private commit(room: Room, ws: WebSocket, update: Uint8Array): void {
    if (update.length <= EMPTY_UPDATE_BYTES && update.every((byte) => byte === 0)) return
    // Checked before it is logged: a logged change that no replica can apply stays in the log forever.
    checkYjsUpdate(update)
    this.applyingFrom = ws
    try {
      this.options.node.commitLocal(room.replica.collection, room.name, 'yjs', update)
    } finally {
      this.applyingFrom = null
    }
  }

  private leave(room: Room, ws: WebSocket): void {
    const controlled = room.conns.get(ws)
    if (controlled === undefined) return
    room.conns.delete(ws)
    // Its users leave the others' awareness at once (not after the 30 s timeout).
    if (controlled.size > 0) awarenessProtocol.removeAwarenessStates(room.awareness, [...controlled], LOCAL_CLOSE)
    if (room.conns.size === 0) {
      room.stop()
      this.rooms.delete(room.name)
    }
  }

  /**
   * The turn's updates, merged into one, to every connection of the room but one that sent them all
   * (a connection is not sent back what it alone wrote; in a merge with others' updates its own cost
   * it a no-op, as y-websocket's own server sends every update to its sender).
   */
  private flush(room: Room): void {
    room.flushScheduled = false
    const batch = room.pending.splice(0)
    if (batch.length === 0 || room.conns.size === 0) return
    const merged = batch.length === 1 ? (batch[0] as { update: Uint8Array }).update : Y.mergeUpdates(batch.map((entry) => entry.update))
    const message = encodeSync(SYNC_UPDATE, merged)
    for (const ws of room.conns.keys()) {
      if (batch.every((entry) => entry.from === ws)) continue
      this.send(room, ws, message)
    }
  }

  private send(room: Room, ws: WebSocket, message: Uint8Array): void {
    if (ws.readyState !== WebSocket.OPEN) return
    if (ws.bufferedAmount > this.options.config.maxSendBufferBytes) {
      this.options.logger.warn(`yjs room ${room.name}: a connection does not read what it is sent; closed`)
      return close(ws, YjsCloseCode.OVERLOADED, 'too much unsent: reconnect and sync again')
    }
    ws.send(message)
  }
}

function encodeSync(step: number, payload: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MESSAGE_SYNC)
  encoding.writeVarUint(encoder, step)
  encoding.writeVarUint8Array(encoder, payload)
  return encoding.toUint8Array(encoder)
}

function encodeAwareness(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MESSAGE_AWARENESS)
  encoding.writeVarUint8Array(encoder, update)
  return encoding.toUint8Array(encoder)
}
