import { HlcClock } from '../../core/clock/hlc.js'
import { CloseCode, closeReason } from '../../core/codec/close-codes.js'
import { decodeMessage, encodeMessage, peekHandshakeVersion } from '../../core/codec/codec.js'
import { MessageType, PROTOCOL_VERSION, type Message } from '../../core/codec/messages.js'
import { createReplica } from '../../core/crdt/registry.js'
import { MeshNode } from '../../core/mesh/mesh-node.js'
import type { VersionVector } from '../../core/types.js'
import { SimRandom } from '../sim/random.js'
import type { WebSocketConstructor, WebSocketLike } from '../../client/websocket.js'

const CONNECTING = 0
const OPEN = 1
const CLOSING = 2
const CLOSED = 3
/** What browsers report when a connection fails or drops without a close frame. */
export const ABNORMAL_CLOSURE = 1006

/** A seeded random source for clients and regions, so runs replay. */
export function seededRandom(seed: number): () => number {
  const random = new SimRandom(seed)
  return () => random.next()
}

export interface FakeRegionOptions {
  /** Handshake credentials the region accepts; any when undefined. */
  readonly token?: string
  /** Mark received changes durable (and Ack) at once. Default true; false to ack by hand with `flushDurable`. */
  readonly autoDurable?: boolean
  /** Never answer handshakes (to test the handshake timeout). */
  readonly silent?: boolean
  /** Answer the handshake with this protocol version. */
  readonly protocolVersion?: number
}

/** The server's end of one client connection: a fake socket, or a real `ws` socket in adapter tests. */
export interface ServerEnd {
  clientId: string | null
  /** Send one frame to the client. */
  deliver(bytes: Uint8Array): void
  /** Close the connection from the server side. */
  serverClose(code: number, reason: string): void
}

/**
 * One "region": a server-side MeshNode behind fake sockets, speaking the real codec (handshake,
 * HandshakeAccept, vectors, batches, Ack, Replicated) as docs/server.md describes.
 */
export class FakeRegion {
  readonly node: MeshNode
  /** Every message received from clients after the handshake, in order. */
  readonly inbox: { readonly clientId: string; readonly message: Message }[] = []
  /** Refuse new connections (the socket fails as if the host were down). */
  down = false
  autoDurable: boolean
  silent: boolean
  readonly token: string | undefined
  readonly protocolVersion: number
  private readonly sessions = new Map<string, ServerEnd>()
  private readonly links = new Map<string, FakeRegion>()
  private replicated: VersionVector = new Map()
  handshakes = 0

  constructor(
    readonly network: FakeNetwork,
    readonly nodeId: string,
    readonly region: string,
    options: FakeRegionOptions = {},
  ) {
    const random = seededRandom(nodeId.length * 7919 + region.length)
    this.token = options.token
    this.autoDurable = options.autoDurable ?? true
    this.silent = options.silent ?? false
    this.protocolVersion = options.protocolVersion ?? PROTOCOL_VERSION
    this.node = new MeshNode({
      id: nodeId,
      clock: new HlcClock({ node: nodeId, wallClock: () => network.wallMs }),
      random,
      createReplica: (docType, context) => createReplica(docType, context),
      send: (peer, message) => this.send(peer, message),
      // A member, as a real region is: it logs its clients' changes under its own origin, with the
      // client as author.
      ackGossipMembers: network.members.add(nodeId),
    })
  }

  /** Client ids with an accepted session. */
  get clients(): string[] {
    return [...this.sessions.keys()]
  }

  /** Changes each client sent us, in arrival order, as `origin:seq`. */
  receivedFromClients(): string[] {
    const out: string[] = []
    for (const { message } of this.inbox) {
      if (message.type === MessageType.ChangeBatch) for (const c of message.changes) out.push(`${c.origin}:${c.seq}`)
    }
    return out
  }

  /** Persisting is instant here: everything held becomes durable, and every client gets an Ack. */
  flushDurable(): void {
    this.node.markDurable(new Map(this.node.vector))
  }

  /**
   * Tells every connected client that `vector` (client id → own seq) is durable in every region; by
   * default, each client's writes durable here.
   */
  sendReplicated(vector?: VersionVector): void {
    this.replicated = new Map(vector ?? [...this.sessions.keys()].map((id) => [id, this.node.authorDurable(id)]))
    for (const clientId of this.sessions.keys()) {
      this.send(clientId, { type: MessageType.Replicated, vector: this.replicated })
    }
  }

  /** Closes every client session from the server side. */
  dropAll(code = ABNORMAL_CLOSURE): void {
    for (const socket of [...this.sessions.values()]) socket.serverClose(code, code === ABNORMAL_CLOSURE ? '' : closeReason(code))
  }

  /** Links two regions' meshes (through the codec, asynchronously). */
  link(other: FakeRegion): void {
    this.links.set(other.nodeId, other)
    other.links.set(this.nodeId, this)
    this.node.connect(other.nodeId)
    other.node.connect(this.nodeId)
  }

  unlink(other: FakeRegion): void {
    this.links.delete(other.nodeId)
    other.links.delete(this.nodeId)
    this.node.disconnect(other.nodeId)
    other.node.disconnect(this.nodeId)
  }

  /** A frame from a client socket. */
  receive(socket: ServerEnd, bytes: Uint8Array): void {
    if (socket.clientId === null) {
      this.handshake(socket, bytes)
      return
    }
    let message: Message
    try {
      message = decodeMessage(bytes)
    } catch {
      socket.serverClose(CloseCode.BAD_FRAME, closeReason(CloseCode.BAD_FRAME))
      return
    }
    this.inbox.push({ clientId: socket.clientId, message })
    const before = heldCount(this.node)
    this.node.receive(socket.clientId, message)
    if (this.autoDurable && heldCount(this.node) !== before) this.flushDurable()
  }

  closed(socket: ServerEnd): void {
    if (socket.clientId !== null && this.sessions.get(socket.clientId) === socket) {
      this.sessions.delete(socket.clientId)
      this.node.disconnect(socket.clientId)
    }
  }

  private handshake(socket: ServerEnd, bytes: Uint8Array): void {
    if (this.silent) return
    const reject = (code: CloseCode, errorCode: string): void => {
      socket.deliver(encodeMessage({ type: MessageType.Error, code: errorCode, message: closeReason(code) }))
      socket.serverClose(code, closeReason(code))
    }
    if (peekHandshakeVersion(bytes) !== PROTOCOL_VERSION) return reject(CloseCode.VERSION_MISMATCH, 'VERSION_MISMATCH')
    let message: Message
    try {
      message = decodeMessage(bytes)
    } catch {
      return reject(CloseCode.BAD_FRAME, 'BAD_FRAME')
    }
    if (message.type !== MessageType.Handshake) return reject(CloseCode.BAD_FRAME, 'BAD_FRAME')
    if (this.token !== undefined && message.credentials !== this.token) return reject(CloseCode.UNAUTHORIZED, 'UNAUTHORIZED')
    if (message.role !== 'client') return reject(CloseCode.FORBIDDEN, 'FORBIDDEN')
    this.handshakes += 1
    const previous = this.sessions.get(message.identity)
    if (previous) {
      this.sessions.delete(message.identity)
      this.node.disconnect(message.identity)
      previous.serverClose(ABNORMAL_CLOSURE, '')
    }
    socket.clientId = message.identity
    this.sessions.set(message.identity, socket)
    socket.deliver(
      encodeMessage({ type: MessageType.HandshakeAccept, protocolVersion: this.protocolVersion, identity: this.nodeId, region: this.region }),
    )
    this.node.connect(message.identity)
    // What a real server should do too: tell a (re)connecting client what is already durable here
    // and everywhere, so its pending handles resolve without waiting for new traffic.
    this.send(message.identity, { type: MessageType.Ack, node: this.nodeId, durable: new Map([[message.identity, this.node.authorDurable(message.identity)]]) })
    if (this.replicated.size > 0) this.send(message.identity, { type: MessageType.Replicated, vector: this.replicated })
  }

  private send(peer: string, message: Message): void {
    const bytes = encodeMessage(message)
    const socket = this.sessions.get(peer)
    if (socket) {
      socket.deliver(bytes)
      return
    }
    const other = this.links.get(peer)
    if (other) {
      queueMicrotask(() => {
        if (!other.links.has(this.nodeId)) return
        const before = heldCount(other.node)
        other.node.receive(this.nodeId, decodeMessage(bytes))
        if (other.autoDurable && heldCount(other.node) !== before) other.flushDurable()
      })
    }
  }
}

/** How many changes a node holds: tells whether a message added anything. */
export function heldCount(node: MeshNode): number {
  let total = 0
  for (const seq of node.vector.values()) total += seq
  return total
}

/** The client end of a fake connection; asynchronous like a real socket, FIFO in both directions. */
export class FakeSocket implements WebSocketLike, ServerEnd {
  binaryType = 'blob'
  readyState = CONNECTING
  onopen: ((event: unknown) => void) | null = null
  onmessage: ((event: { readonly data: unknown }) => void) | null = null
  onclose: ((event: { readonly code: number; readonly reason: string }) => void) | null = null
  onerror: ((event: unknown) => void) | null = null
  server: FakeRegion | null = null
  clientId: string | null = null
  /** Frames the client sent, decoded. */
  readonly sent: Message[] = []

  constructor(
    readonly network: FakeNetwork,
    readonly url: string,
  ) {
    network.sockets.push(this)
    queueMicrotask(() => {
      if (this.readyState !== CONNECTING) return
      const region = network.regionFor(url)
      if (!region || region.down) {
        this.readyState = CLOSED
        this.onerror?.({ type: 'error' })
        this.onclose?.({ code: ABNORMAL_CLOSURE, reason: '' })
        return
      }
      this.server = region
      this.readyState = OPEN
      this.onopen?.({ type: 'open' })
    })
  }

  send(data: Uint8Array): void {
    if (this.readyState === CONNECTING) throw new Error('InvalidStateError: still connecting')
    if (this.readyState !== OPEN) return
    const bytes = data.slice()
    this.sent.push(decodeMessage(bytes))
    queueMicrotask(() => {
      if (this.readyState === OPEN) this.server?.receive(this, bytes)
    })
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === CLOSING || this.readyState === CLOSED) return
    const wasConnecting = this.readyState === CONNECTING
    this.readyState = CLOSING
    queueMicrotask(() => {
      this.readyState = CLOSED
      this.server?.closed(this)
      this.onclose?.({ code: wasConnecting ? ABNORMAL_CLOSURE : code, reason })
    })
  }

  /** Server to client: one frame. */
  deliver(bytes: Uint8Array): void {
    const copy = bytes.slice()
    queueMicrotask(() => {
      if (this.readyState !== OPEN) return
      this.onmessage?.({ data: this.binaryType === 'arraybuffer' ? copy.buffer : copy })
    })
  }

  /** The server (or the network) closes the connection. */
  serverClose(code: number, reason: string): void {
    if (this.readyState === CLOSED) return
    this.server?.closed(this)
    queueMicrotask(() => {
      if (this.readyState === CLOSED) return
      this.readyState = CLOSED
      this.onclose?.({ code, reason })
    })
  }
}

/** Fake regions addressed by URL host, and the WebSocket constructor that reaches them. */
export class FakeNetwork {
  readonly sockets: FakeSocket[] = []
  wallMs = 1_700_000_000_000
  private readonly regions = new Map<string, FakeRegion>()
  /** Every region's node id: they are the cluster's members. */
  readonly members = new Set<string>()
  readonly WebSocket: WebSocketConstructor

  constructor() {
    const network = this
    this.WebSocket = class extends FakeSocket {
      constructor(url: string) {
        super(network, url)
      }
    }
  }

  /** A region reachable at `ws://<host>` (any path). */
  addRegion(host: string, nodeId: string, options: FakeRegionOptions = {}): FakeRegion {
    const region = new FakeRegion(this, nodeId, host, options)
    this.regions.set(host, region)
    return region
  }

  regionFor(url: string): FakeRegion | undefined {
    return this.regions.get(new URL(url).host)
  }

  /** Sockets opened towards `host`, in order. */
  socketsTo(host: string): FakeSocket[] {
    return this.sockets.filter((s) => new URL(s.url).host === host)
  }
}
