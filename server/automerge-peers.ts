import * as Automerge from '@automerge/automerge'
import { decode as decodeCbor, encode as encodeCbor } from 'cborg'
import WebSocket from 'ws'
import { MessageType, type EphemeralMessage } from '../core/codec/index.js'
import { AutomergeReplica } from '../core/crdt/automerge.js'
import type { ServerConfig } from './config.js'
import { closeSocket, FOREIGN_UNAVAILABLE, keepAlive, refuseOversizeFrames } from './foreign-socket.js'
import { clientFrameBytes } from './limits.js'
import type { Logger } from './logger.js'
import { WriteError } from './region/types.js'
import type { RegionNode } from './region-node.js'

/**
 * `ws /automerge` (docs/server.md, "automerge-repo peers"): the protocol of automerge-repo's WebSocket
 * network adapter, so that an unmodified `Repo` with a `WebSocketClientAdapter` syncs its documents with
 * a region — each a document of the collection `automergeRepoCollection`, persisted and replicated to
 * every region like any change the region writes.
 *
 * Frames are CBOR maps. The peer sends `join` (its peer id, the protocol versions it speaks); the region
 * answers `peer` (its own id, version "1"). Then, per document: `sync` and `request` carry messages of
 * Automerge's sync protocol, kept in a sync state per peer and document; the changes they bring are
 * logged as this region's changes; whenever the document changes here, from anywhere, every peer that
 * synced it gets the next sync message. A `request` for a document this region does not hold is
 * answered `doc-unavailable` (the peer hears of it once it arrives). `ephemeral` messages go to the
 * document's other peers, here and, in `Ephemeral` frames, in the other regions.
 */

/** The protocol version of automerge-repo's WebSocket adapter this speaks. */
const PROTOCOL_V1 = '1'
const EPHEMERAL_TOPIC = 'automerge-ephemeral'
/** How long a request for a document this region lacks waits for it to arrive from another region. */
export const UNAVAILABLE_GRACE_MS = 1000
/** Longest document id. */
const MAX_DOCUMENT_ID_BYTES = 512

/** automerge-repo's adapter retries every close alike: these codes are for logs and people. */
export const AutomergeCloseCode = {
  BAD_MESSAGE: 4400,
  NOT_SERVED: 4404,
  TOO_LARGE: 4413,
  UNAVAILABLE: FOREIGN_UNAVAILABLE,
  OVERLOADED: 4508,
} as const

interface Peer {
  readonly ws: WebSocket
  /** The peer's id, from its `join`; null before. */
  id: string | null
  readonly syncStates: Map<string, Automerge.SyncState>
}

type Frame = Record<string, unknown>

export interface AutomergePeersOptions {
  readonly config: ServerConfig
  readonly node: RegionNode
  readonly logger: Logger
}

export class AutomergePeers {
  private readonly peers = new Set<Peer>()
  /** Document id → the peers that synced it here. */
  private readonly byDocument = new Map<string, Set<Peer>>()
  /** Documents changed since the last flush. */
  private readonly changed = new Set<string>()
  private flushScheduled = false
  private readonly selfId: string
  private readonly stops: (() => void)[] = []

  constructor(private readonly options: AutomergePeersOptions) {
    this.selfId = `meridian-${options.config.nodeId}`
    const collection = options.config.automergeRepoCollection
    this.stops.push(
      options.node.onDocumentChanged((changedCollection, docId) => {
        if (changedCollection === collection && this.byDocument.has(docId)) this.schedule(docId)
      }),
      options.node.onEphemeral((message) => this.fromRegion(message)),
    )
  }

  accept(ws: WebSocket): void {
    if (this.options.config.automergeRepoCollection === null) {
      return closeSocket(ws, AutomergeCloseCode.NOT_SERVED, 'this server syncs no automerge-repo documents (config: automergeRepoCollection)')
    }
    const peer: Peer = { ws, id: null, syncStates: new Map() }
    this.peers.add(peer)
    ws.binaryType = 'nodebuffer'
    refuseOversizeFrames(ws, clientFrameBytes(this.options.config))
    keepAlive(ws, this.options.config.heartbeatIntervalMs)
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return this.refuse(peer, 'frames are binary CBOR')
      let frame: unknown
      try {
        frame = decodeCbor(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
      } catch (err) {
        return this.refuse(peer, `not CBOR: ${err instanceof Error ? err.message : String(err)}`)
      }
      if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return this.refuse(peer, 'a frame is a CBOR map')
      try {
        this.receive(peer, frame as Frame)
      } catch (err) {
        if (err instanceof WriteError) return closeSocket(ws, err.code === 'TOO_LARGE' ? AutomergeCloseCode.TOO_LARGE : AutomergeCloseCode.UNAVAILABLE, err.message)
        this.refuse(peer, err instanceof Error ? err.message : String(err))
      }
    })
    ws.on('close', () => this.leave(peer))
    ws.on('error', () => ws.terminate())
  }

  close(): void {
    for (const stop of this.stops.splice(0)) stop()
    for (const peer of [...this.peers]) closeSocket(peer.ws, 1001, 'the node is shutting down')
  }

  private receive(peer: Peer, frame: Frame): void {
    if (peer.id === null) {
      if (frame['type'] !== 'join') throw new Error(`the first message must be "join", not ${JSON.stringify(frame['type'])}`)
      const senderId = frame['senderId']
      if (typeof senderId !== 'string' || senderId === '') throw new Error('join: senderId must be a non-empty string')
      const versions = frame['supportedProtocolVersions']
      if (!Array.isArray(versions) || !versions.includes(PROTOCOL_V1)) {
        this.send(peer, { type: 'error', senderId: this.selfId, targetId: senderId, message: `unsupported protocol versions ${JSON.stringify(versions)}; this server speaks "${PROTOCOL_V1}"` })
        return closeSocket(peer.ws, AutomergeCloseCode.BAD_MESSAGE, 'unsupported protocol version')
      }
      peer.id = senderId
      this.send(peer, { type: 'peer', senderId: this.selfId, targetId: senderId, peerMetadata: {}, selectedProtocolVersion: PROTOCOL_V1 })
      return
    }
    switch (frame['type']) {
      case 'sync':
      case 'request':
        return this.sync(peer, frame['type'], documentIdOf(frame), bytesOf(frame, 'data'))
      case 'ephemeral':
        return this.ephemeral(peer, frame)
      default:
        // remote-subscription-change, remote-heads-changed, and what later versions add: not used here.
        return
    }
  }

  private sync(peer: Peer, type: 'sync' | 'request', docId: string, data: Uint8Array): void {
    const collection = this.options.config.automergeRepoCollection as string
    let peers = this.byDocument.get(docId)
    if (peers === undefined) {
      peers = new Set()
      this.byDocument.set(docId, peers)
    }
    peers.add(peer)
    const state = peer.syncStates.get(docId) ?? Automerge.initSyncState()
    // Recorded before anything can throw: `leave` finds the document lists through these.
    peer.syncStates.set(docId, state)
    const existing = this.options.node.mesh.existingReplica(collection, docId)
    if (type === 'request' && existing === undefined) {
      // Nothing here yet. A document just made in another region may be a few milliseconds away:
      // answer "unavailable" only if it is still missing after UNAVAILABLE_GRACE_MS. The peer stays
      // listed either way, and hears of the document once it arrives.
      setTimeout(() => {
        if (this.options.node.mesh.existingReplica(collection, docId) !== undefined || !this.peers.has(peer)) return
        this.send(peer, { type: 'doc-unavailable', senderId: this.selfId, targetId: peer.id, documentId: docId })
      }, UNAVAILABLE_GRACE_MS).unref()
      return
    }
    const replica = this.options.node.replicaOf(collection, docId, 'automerge')
    if (!(replica instanceof AutomergeReplica)) throw new Error(`${docId} is not an automerge document`)
    const read = replica.readSyncMessage(state, data)
    peer.syncStates.set(docId, read.state)
    for (const change of read.changes) this.options.node.commitLocal(collection, docId, 'automerge', change)
    // The answer to this peer now; the document's other peers when the change event's flush runs.
    this.sendSync(peer, docId, replica)
  }

  private ephemeral(peer: Peer, frame: Frame): void {
    const docId = documentIdOf(frame)
    if (typeof frame['sessionId'] !== 'string' || !Number.isSafeInteger(frame['count'])) throw new Error('ephemeral: sessionId must be a string and count an integer')
    const relayed = { senderId: peer.id, sessionId: frame['sessionId'], count: frame['count'], documentId: docId, data: bytesOf(frame, 'data') }
    this.deliverEphemeral(relayed, peer)
    this.options.node.relayEphemeral({
      type: MessageType.Ephemeral,
      topic: EPHEMERAL_TOPIC,
      collection: this.options.config.automergeRepoCollection as string,
      docId,
      payload: encodeCbor(relayed),
    })
  }

  /** An `ephemeral` message to the document's peers here, but `from`. */
  private deliverEphemeral(relayed: Frame, from: Peer | null): void {
    for (const other of this.byDocument.get(relayed['documentId'] as string) ?? []) {
      if (other !== from && other.id !== null) this.send(other, { type: 'ephemeral', ...relayed, targetId: other.id })
    }
  }

  private fromRegion(message: EphemeralMessage): void {
    if (message.topic !== EPHEMERAL_TOPIC || message.collection !== this.options.config.automergeRepoCollection) return
    try {
      const relayed = decodeCbor(message.payload) as Frame
      if (relayed['documentId'] !== message.docId) return
      this.deliverEphemeral(relayed, null)
    } catch (err) {
      this.options.logger.warn(`automerge ephemeral from a peer region did not decode: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  private schedule(docId: string): void {
    this.changed.add(docId)
    if (this.flushScheduled) return
    this.flushScheduled = true
    // After the change (and the rest of its batch) applied: one sync message per peer, not one per change.
    setImmediate(() => this.flush())
  }

  private flush(): void {
    this.flushScheduled = false
    const collection = this.options.config.automergeRepoCollection as string
    for (const docId of this.changed) {
      const replica = this.options.node.mesh.existingReplica(collection, docId)
      if (!(replica instanceof AutomergeReplica)) continue
      for (const peer of this.byDocument.get(docId) ?? []) this.sendSync(peer, docId, replica)
    }
    this.changed.clear()
  }

  private sendSync(peer: Peer, docId: string, replica: AutomergeReplica): void {
    const state = peer.syncStates.get(docId)
    if (state === undefined || peer.id === null) return
    const next = replica.generateSyncMessage(state)
    peer.syncStates.set(docId, next.state)
    if (next.message !== null) this.send(peer, { type: 'sync', senderId: this.selfId, targetId: peer.id, documentId: docId, data: next.message })
  }

  private leave(peer: Peer): void {
    this.peers.delete(peer)
    for (const docId of peer.syncStates.keys()) {
      const peers = this.byDocument.get(docId)
      peers?.delete(peer)
      if (peers?.size === 0) this.byDocument.delete(docId)
    }
  }

  private refuse(peer: Peer, why: string): void {
    if (peer.id !== null) this.send(peer, { type: 'error', senderId: this.selfId, targetId: peer.id, message: why })
    closeSocket(peer.ws, AutomergeCloseCode.BAD_MESSAGE, why)
  }

  private send(peer: Peer, frame: Frame): void {
    if (peer.ws.readyState !== WebSocket.OPEN) return
    if (peer.ws.bufferedAmount > this.options.config.maxSendBufferBytes) {
      this.options.logger.warn(`automerge peer ${peer.id ?? '?'} does not read what it is sent; closed`)
      return closeSocket(peer.ws, AutomergeCloseCode.OVERLOADED, 'too much unsent')
    }
    peer.ws.send(encodeCbor(frame))
  }
}

function documentIdOf(frame: Frame): string {
  const docId = frame['documentId']
  if (typeof docId !== 'string' || docId === '' || Buffer.byteLength(docId) > MAX_DOCUMENT_ID_BYTES) {
    throw new Error(`documentId must be a string of 1 to ${MAX_DOCUMENT_ID_BYTES} bytes`)
  }
  return docId
}

function bytesOf(frame: Frame, key: string): Uint8Array {
  const value = frame[key]
  if (!(value instanceof Uint8Array)) throw new Error(`${key} must be a byte string`)
  return value
}
