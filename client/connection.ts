import { closeCodeName, CloseCode, closeReason } from '../core/codec/close-codes.js'
import { DEFAULT_MAX_FRAME_BYTES, decodeBaseMessage, encodeBaseMessage, NO_FRAME_EXTENSIONS, type FrameExtensions } from '../core/codec/base-codec.js'
import { isCodecError } from '../core/codec/errors.js'
import { MessageType, PROTOCOL_VERSION, type Message } from '../core/codec/messages.js'
import { vvMerge } from '../core/clock/version-vector.js'
import type { VersionVector } from '../core/types.js'
import { backoffDelayMs } from './backoff.js'
import { ConnectionError, type ConnectionErrorCode } from './errors.js'
import { Listeners } from './listeners.js'
import { WS_NORMAL_CLOSURE, WS_OPEN, type WebSocketConstructor, type WebSocketLike } from './websocket.js'

/**
 * `connecting`: a socket is being opened or is in its handshake. `connected`: the handshake was
 * accepted and changes flow. `offline`: waiting to retry, stopped by a fatal error, or closed.
 */
export type ConnectionStatus = 'connecting' | 'connected' | 'offline'

/** The part of `MeshNode` a connection drives. */
export interface ConnectionMesh {
  connect(peer: string): void
  disconnect(peer: string): void
  receive(peer: string, message: Message): void
}

/** Timer functions, injectable for tests; default the global ones. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export interface ConnectionOptions {
  /** Region URLs, tried in turn (`ws://host:port` means `ws://host:port/sync`). At least one. */
  readonly urls: readonly string[]
  readonly clientId: string
  /** Sent as the handshake's credentials; empty when absent. */
  readonly token?: string | undefined
  /**
   * Asked for the credentials before every connection attempt (instead of `token`): a session that
   * ends with TOKEN_EXPIRED reconnects with a fresh one. A rejection is retried with backoff.
   */
  readonly getToken?: (() => string | Promise<string>) | undefined
  readonly mesh: ConnectionMesh
  readonly WebSocket: WebSocketConstructor
  readonly random: () => number
  /** First reconnect delay (before jitter). Default 100. */
  readonly minDelayMs?: number | undefined
  /** Cap of the exponential reconnect delay. Default 5000. */
  readonly maxDelayMs?: number | undefined
  /** A socket that has not completed the handshake by then is closed and counted as failed. Default 10 000. */
  readonly handshakeTimeoutMs?: number | undefined
  /** Frames above this are refused (`TOO_LARGE`). Default 16 MiB. */
  readonly maxFrameBytes?: number | undefined
  /** Codecs of frames beyond the sync protocol's (strict mode's, from the strict module). Default none. */
  readonly frames?: FrameExtensions | undefined
  readonly timers?: Timers | undefined
  /** Every message received after the handshake, once the mesh has seen it. */
  readonly onMessage?: ((serverId: string, message: Message) => void) | undefined
  /** A region reported what is durable in every region (merged over all regions heard so far). */
  readonly onReplicated?: ((vector: VersionVector) => void) | undefined
  /**
   * A session began: the handshake was accepted and `sendToServer` works. Called before the status
   * becomes `connected`, so status listeners can already use the session.
   */
  readonly onSessionStart?: ((serverId: string) => void) | undefined
  /** The session that `onSessionStart` announced ended (the socket closed, or `stop`). */
  readonly onSessionEnd?: ((serverId: string) => void) | undefined
}

export const DEFAULT_MIN_DELAY_MS = 100
export const DEFAULT_MAX_DELAY_MS = 5_000
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000

/** The global `setTimeout` / `clearTimeout`. */
export const GLOBAL_TIMERS: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
}

const noop = (): void => undefined

/** `ws://host:port` (no path) becomes `ws://host:port/sync`; a URL with a path is kept. */
export function syncUrl(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new Error(`Meridian client: ${JSON.stringify(url)} is not a URL`)
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new Error(`Meridian client: ${JSON.stringify(url)} must be a ws:// or wss:// URL`)
  }
  if (parsed.pathname === '' || parsed.pathname === '/') parsed.pathname = '/sync'
  return parsed.toString()
}

/**
 * One client's link to the regions: at most one socket at a time, to one region URL. It handshakes
 * as role `client`, then runs the mesh over the socket (`mesh.connect(serverId)`, which exchanges
 * version vectors, so a reconnect resumes exactly where the two sides differ). When the socket
 * closes it reconnects with jittered exponential backoff, to the next URL in turn, unless the close
 * code says retrying cannot help (`UNAUTHORIZED`, `FORBIDDEN`, `VERSION_MISMATCH`). After
 * `RESYNC_LIMIT` it waits the longest delay (`maxDelayMs`, jittered) before it redials.
 *
 * @example
 * ```ts
 * const connection = new ClientConnection({ urls, clientId, mesh, WebSocket, random: Math.random })
 * connection.onStatus((status) => console.log(status))
 * connection.start()
 * ```
 */
export class ClientConnection {
  private readonly urls: readonly string[]
  private readonly options: ConnectionOptions
  private readonly timers: Timers
  private readonly minDelayMs: number
  private readonly maxDelayMs: number
  private readonly handshakeTimeoutMs: number
  private readonly maxFrameBytes: number
  private readonly frames: FrameExtensions
  private readonly statusListeners = new Listeners<[ConnectionStatus]>()
  private readonly errorListeners = new Listeners<[ConnectionError]>()
  private currentStatus: ConnectionStatus = 'offline'
  private socket: WebSocketLike | null = null
  private socketUrl = ''
  private peer: { readonly id: string; readonly region: string } | null = null
  /** Set before we close a socket ourselves, so its close event reports our reason. */
  private localFailure: ConnectionErrorCode | null = null
  private serverMessage: string | undefined
  private handshakeTimer: unknown = null
  private retryTimer: unknown = null
  private nextUrl = 0
  private failures = 0
  /** Some attempt failed or a session was lost since start: the client is reconnecting, not connecting. */
  private failedOnce = false
  /** The delay drawn for the retry that is waiting, or null when none is. */
  private retryDelay: number | null = null
  private running = false
  /** Numbers dial attempts, so a late `getToken` answer for an abandoned one is ignored. */
  private dialAttempt = 0
  private fatal: ConnectionError | null = null
  private replicated: Map<string, number> = new Map()

  constructor(options: ConnectionOptions) {
    if (options.urls.length === 0) throw new Error('Meridian client: urls must list at least one region URL')
    this.urls = options.urls.map(syncUrl)
    this.options = options
    this.timers = options.timers ?? GLOBAL_TIMERS
    this.minDelayMs = options.minDelayMs ?? DEFAULT_MIN_DELAY_MS
    this.maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.frames = options.frames ?? NO_FRAME_EXTENSIONS
    if (!(this.minDelayMs > 0)) throw new Error('Meridian client: minDelayMs must be > 0')
    if (!(this.maxDelayMs >= this.minDelayMs)) throw new Error('Meridian client: maxDelayMs must be >= minDelayMs')
    if (!(this.handshakeTimeoutMs > 0)) throw new Error('Meridian client: handshakeTimeoutMs must be > 0')
  }

  get status(): ConnectionStatus {
    return this.currentStatus
  }

  /** The node id of the region we are connected to (the mesh peer id), or null. */
  get serverId(): string | null {
    return this.peer?.id ?? null
  }

  /** The region we are connected to, or null. */
  get region(): string | null {
    return this.peer?.region ?? null
  }

  /** The URL of the current (or last) socket. */
  get url(): string | null {
    return this.socketUrl || null
  }

  /** True once an attempt failed or a session ended: a later `connecting` is a reconnect. */
  get reconnecting(): boolean {
    return this.failedOnce
  }

  /** The delay before the waiting retry (as drawn when the last attempt failed), or null. */
  get retryDelayMs(): number | null {
    return this.retryDelay
  }

  /** The error that stopped reconnecting for good, if any. */
  get error(): ConnectionError | null {
    return this.fatal
  }

  /** What regions reported durable in every region so far. */
  get replicatedVector(): VersionVector {
    return this.replicated
  }

  /** Called on every status change. Returns the unsubscribe function. */
  onStatus(listener: (status: ConnectionStatus) => void): () => void {
    return this.statusListeners.add(listener)
  }

  /** Called for every failed attempt or lost session, fatal or not. Returns the unsubscribe function. */
  onError(listener: (error: ConnectionError) => void): () => void {
    return this.errorListeners.add(listener)
  }

  start(): void {
    if (this.running || this.fatal) return
    this.running = true
    this.dial()
  }

  /** Closes the socket and stops reconnecting. */
  stop(): void {
    this.running = false
    this.timers.clearTimeout(this.retryTimer)
    this.retryTimer = null
    this.retryDelay = null
    this.dropSocket(WS_NORMAL_CLOSURE, 'client closed')
    this.setStatus('offline')
  }

  /** The mesh's transport: frames go out only to the region we are connected to. */
  send(peer: string, message: Message): void {
    const socket = this.socket
    if (!socket || this.peer?.id !== peer || socket.readyState !== WS_OPEN) return
    this.transmit(socket, message)
  }

  /**
   * Sends `message` to the region of the current session. False when there is no session (nothing
   * was sent); true means the frame was handed to the socket, not that it arrived. Throws when the
   * message cannot be encoded.
   */
  sendToServer(message: Message): boolean {
    const socket = this.socket
    if (!socket || !this.peer || socket.readyState !== WS_OPEN) return false
    const bytes = encodeBaseMessage(message, this.frames)
    try {
      socket.send(bytes)
      return true
    } catch {
      return false
    }
  }

  private dial(): void {
    if (!this.running) return
    const url = this.urls[this.nextUrl % this.urls.length] as string
    this.nextUrl = (this.nextUrl + 1) % this.urls.length
    this.socketUrl = url
    this.localFailure = null
    this.serverMessage = undefined
    this.setStatus('connecting')
    const getToken = this.options.getToken
    if (getToken === undefined) return this.open(url, this.options.token ?? '')
    const attempt = ++this.dialAttempt
    const current = () => this.running && attempt === this.dialAttempt
    Promise.resolve()
      .then(getToken)
      .then(
        (token) => current() && this.open(url, String(token)),
        (error) => current() && this.fail(new ConnectionError({ code: 'TOKEN_UNAVAILABLE', url, message: `getToken failed: ${String(error)}` })),
      )
  }

  private open(url: string, credentials: string): void {
    let socket: WebSocketLike
    try {
      socket = new this.options.WebSocket(url)
    } catch (error) {
      this.fail(new ConnectionError({ code: 'NETWORK', url, message: `could not open ${url}: ${String(error)}` }))
      return
    }
    this.socket = socket
    socket.binaryType = 'arraybuffer'
    socket.onopen = () => {
      if (socket !== this.socket) return
      this.transmit(socket, {
        type: MessageType.Handshake,
        protocolVersion: PROTOCOL_VERSION,
        role: 'client',
        identity: this.options.clientId,
        region: '',
        credentials,
      })
    }
    socket.onmessage = (event) => {
      if (socket === this.socket) this.receiveFrame(socket, event.data)
    }
    // Errors are followed by a close event, which is where they are handled.
    socket.onerror = noop
    socket.onclose = (event) => {
      if (socket === this.socket) this.closed(url, event.code)
    }
    this.handshakeTimer = this.timers.setTimeout(() => {
      if (socket === this.socket && !this.peer) this.abort(socket, 'HANDSHAKE_TIMEOUT', WS_NORMAL_CLOSURE)
    }, this.handshakeTimeoutMs)
  }

  private receiveFrame(socket: WebSocketLike, data: unknown): void {
    let message: Message
    try {
      message = decodeBaseMessage(toBytes(data), { maxFrameBytes: this.maxFrameBytes }, this.frames)
    } catch (error) {
      if (!isCodecError(error)) throw error
      this.abort(socket, error.code, CloseCode[error.code])
      return
    }
    if (!this.peer) {
      this.receiveHandshake(socket, message)
      return
    }
    const peerId = this.peer.id
    switch (message.type) {
      case MessageType.Replicated:
        this.replicated = vvMerge(this.replicated, message.vector)
        this.options.onReplicated?.(this.replicated)
        break
      case MessageType.Error:
        this.serverMessage = `${message.code}: ${message.message}`
        break
      case MessageType.Handshake:
      case MessageType.HandshakeAccept:
        this.abort(socket, 'BAD_FRAME', CloseCode.BAD_FRAME)
        return
      case MessageType.Strict:
      case MessageType.StrictWrite:
      case MessageType.StrictWriteResult:
      case MessageType.StrictRead:
      case MessageType.StrictReadResult:
      case MessageType.StrictSubscribe:
      case MessageType.StrictUnsubscribe:
      case MessageType.StrictChanged:
        // Strict traffic is the shell's (onMessage), not the crdt mesh's.
        break
      default:
        try {
          this.options.mesh.receive(peerId, message)
        } catch (error) {
          // A change the local replica cannot apply (e.g. a corrupt payload): drop this session
          // rather than crash the app; the failure is reported through onError.
          this.serverMessage = `local apply failed: ${error instanceof Error ? error.message : String(error)}`
          this.abort(socket, 'BAD_FRAME', CloseCode.BAD_FRAME)
          return
        }
    }
    this.options.onMessage?.(peerId, message)
  }

  private receiveHandshake(socket: WebSocketLike, message: Message): void {
    if (message.type === MessageType.Error) {
      // The server explains before it closes; the close code decides what we do.
      this.serverMessage = message.message ? `${message.code}: ${message.message}` : message.code
      return
    }
    if (message.type !== MessageType.HandshakeAccept) {
      this.abort(socket, 'BAD_FRAME', CloseCode.BAD_FRAME)
      return
    }
    if (message.protocolVersion !== PROTOCOL_VERSION) {
      this.abort(socket, 'VERSION_MISMATCH', CloseCode.VERSION_MISMATCH)
      return
    }
    this.timers.clearTimeout(this.handshakeTimer)
    this.handshakeTimer = null
    this.peer = { id: message.identity, region: message.region }
    this.failures = 0
    this.options.onSessionStart?.(message.identity)
    this.setStatus('connected')
    // Exchanges version vectors: the region sends what we lack, we send what it lacks (the outbox).
    this.options.mesh.connect(message.identity)
  }

  private closed(url: string, closeCode: number): void {
    const failure = this.localFailure ?? closeCodeName(closeCode) ?? 'NETWORK'
    const serverMessage = this.serverMessage
    this.releaseSocket()
    if (!this.running) return
    // An expired token is only the end when there is no way to get a fresh one.
    const fatal = failure === 'TOKEN_EXPIRED' ? this.options.getToken === undefined : undefined
    this.fail(new ConnectionError({ code: failure, url, closeCode, serverMessage, fatal }))
  }

  private fail(error: ConnectionError): void {
    this.failedOnce = true
    if (error.fatal) {
      this.fatal = error
      this.running = false
    }
    this.errorListeners.emit(error)
    if (!this.running) {
      this.setStatus('offline')
      return
    }
    const bounds = { minDelayMs: this.minDelayMs, maxDelayMs: this.maxDelayMs }
    // RESYNC_LIMIT: the region refused to resend what this session already had. A new session gets a
    // fresh budget, but coming back at once would only repeat whatever caused it: wait the longest delay.
    const attempt = error.code === 'RESYNC_LIMIT' ? Number.MAX_SAFE_INTEGER : this.failures
    const delayMs = backoffDelayMs(attempt, bounds, this.options.random)
    this.failures += 1
    this.retryDelay = delayMs
    this.setStatus('offline')
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null
      this.retryDelay = null
      this.dial()
    }, delayMs)
  }

  /** We close the socket ourselves because of `failure`; the close event reports it. */
  private abort(socket: WebSocketLike, failure: ConnectionErrorCode, closeCode: number): void {
    this.localFailure = failure
    try {
      socket.close(closeCode, closeReason(closeCode))
    } catch {
      // Closing a socket that is still connecting may throw in some implementations; the close
      // event follows either way.
    }
  }

  /** Closes the current socket without waiting for (or reacting to) its close event. */
  private dropSocket(code: number, reason: string): void {
    const socket = this.socket
    if (!socket) return
    this.releaseSocket()
    socket.onopen = noop
    socket.onmessage = noop
    socket.onclose = noop
    socket.onerror = noop
    try {
      socket.close(code, reason)
    } catch {
      // Already closing.
    }
  }

  private releaseSocket(): void {
    this.timers.clearTimeout(this.handshakeTimer)
    this.handshakeTimer = null
    this.socket = null
    if (this.peer) {
      const peer = this.peer.id
      this.peer = null
      this.options.mesh.disconnect(peer)
      this.options.onSessionEnd?.(peer)
    }
  }

  private transmit(socket: WebSocketLike, message: Message): void {
    try {
      socket.send(encodeBaseMessage(message, this.frames))
    } catch {
      // The socket is closing; the close event will reconnect and the vector exchange resends.
    }
  }

  private setStatus(status: ConnectionStatus): void {
    if (status === this.currentStatus) return
    this.currentStatus = status
    this.statusListeners.emit(status)
  }
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  // A text frame (or anything else) is not a Meridian frame.
  return new Uint8Array(0)
}
