import WebSocket from 'ws'
import { encodableText } from './text.js'
import type { Principal } from './auth/principal.js'
import {
  CloseCode,
  DecodeError,
  FrameTooLargeError,
  MessageType,
  PROTOCOL_VERSION,
  closeCodeName,
  closeReason,
  decodeMessage,
  encodeMessage,
  peekHandshakeVersion,
  type Message,
} from '../core/codec/index.js'
import type { Logger } from './logger.js'
import type { ConnectionKind, RejectReason, ServerMetrics } from './metrics.js'
import type { LinkTransport } from './region-node.js'

/** A connection that has not completed its handshake by then is closed. */
export const HANDSHAKE_TIMEOUT_MS = 10_000
/** After we start a close, the other side gets this long to answer before the socket is destroyed. */
export const CLOSE_GRACE_MS = 1_000
/** ws closes with 1009 when a frame exceeds `maxPayload`; Meridian's code for that is TOO_LARGE. */
const WS_MESSAGE_TOO_BIG = 1009
/** ws closes with these on a broken WebSocket frame (bad opcode, invalid UTF-8 in text …). */
const WS_PROTOCOL_ERRORS = new Set([1002, 1007])

export interface ServerConnectionOptions {
  readonly ws: WebSocket
  readonly kind: ConnectionKind
  /** For logs, e.g. `peer us-1` or `/sync from 127.0.0.1:5123`. */
  readonly label: string
  readonly maxFrameBytes: number
  /** [PF4] Unsent bytes above which the connection is closed with OVERLOADED. */
  readonly maxSendBufferBytes: number
  readonly heartbeatIntervalMs: number
  readonly metrics: ServerMetrics
  readonly logger: Logger
  readonly now?: () => number
}

/**
 * One WebSocket carrying Meridian frames, either side of it (accepted on /sync or /peer, or dialled to
 * a peer). It decodes frames, refuses what is malformed with the close code of the table, bounds what
 * waits to be sent, and checks liveness with pings. Nothing received can throw out of it: every
 * failure is counted, explained in an `Error` frame when possible, and ends the connection.
 *
 * The handshake itself belongs to the owner (see session.ts and peer-links.ts): it sets `onMessage`
 * and calls `handshakeComplete()`. Only the first frame's protocol version is checked here, before
 * decoding, so a peer of another version gets VERSION_MISMATCH rather than BAD_FRAME.
 */
export class ServerConnection implements LinkTransport {
  /** Every decoded frame, in order. Exceptions thrown here close the connection with BAD_FRAME. */
  /** `frameBytes`: the frame's size, what holding it costs (frames kept while a handshake is decided). */
  onMessage: (message: Message, frameBytes: number) => void = () => {}
  /** Called once, when we start closing or when the socket closed, whichever comes first. */
  onClose: (code: number, reason: string) => void = () => {}
  readonly kind: ConnectionKind
  readonly label: string
  private readonly ws: WebSocket
  private readonly options: ServerConnectionOptions
  private readonly now: () => number
  private firstFrame = true
  private finished = false
  private missedPongs = 0
  private heartbeat: NodeJS.Timeout | null = null
  private handshakeTimer: NodeJS.Timeout | null
  private lastHeard: number
  private opened: boolean
  /** Why the socket failed before it opened (e.g. connection refused), for the dialler's status. */
  lastError: string | null = null
  /** A client's principal once its handshake passed (docs/security.md); null on peer links and before. */
  principal: Principal | null = null

  constructor(options: ServerConnectionOptions) {
    this.options = options
    this.ws = options.ws
    this.kind = options.kind
    this.label = options.label
    this.now = options.now ?? Date.now
    this.lastHeard = this.now()
    this.mapWsCloseCodes()
    this.ws.binaryType = 'nodebuffer'
    this.ws.on('message', (data, isBinary) => this.onFrame(data, isBinary))
    this.ws.on('pong', () => {
      this.missedPongs = 0
      this.lastHeard = this.now()
    })
    this.ws.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.options.metrics.rejected('TOO_LARGE')
      else if (typeof err.code === 'string' && err.code.startsWith('WS_ERR_')) this.options.metrics.rejected('BAD_FRAME')
      // A dial that fails (peer down) is reported by its owner once, not at every retry.
      if (this.opened) this.options.logger.warn(`${this.label}: ${err.message}`)
      else this.lastError = err.message
    })
    this.ws.on('close', (code, reason) => this.finish(code, reason.toString()))
    this.handshakeTimer = setTimeout(() => {
      this.reject('HANDSHAKE_TIMEOUT', CloseCode.BAD_FRAME, `no handshake within ${HANDSHAKE_TIMEOUT_MS} ms`)
    }, HANDSHAKE_TIMEOUT_MS)
    this.handshakeTimer.unref()
    this.opened = this.ws.readyState === WebSocket.OPEN
    if (this.opened) this.startHeartbeat()
    else {
      this.ws.once('open', () => {
        this.opened = true
        this.startHeartbeat()
      })
    }
  }

  get isOpen(): boolean {
    return !this.finished && this.ws.readyState === WebSocket.OPEN
  }

  /** When a frame or pong last arrived (ms, same clock as `now`). */
  get lastHeardAt(): number {
    return this.lastHeard
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount
  }

  /** The owner accepted the handshake: stop the handshake timer. */
  handshakeComplete(): void {
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer)
    this.handshakeTimer = null
  }

  /**
   * Sends one frame. [PF4] When what waits to be sent would exceed the bound, the connection is closed
   * with OVERLOADED instead: the other side reconnects and catches up through version vectors. A frame
   * is always accepted when nothing is waiting, whatever its size. `paced` frames (the change stream,
   * held back by link-flow.ts above half the bound) are not checked again.
   */
  send(bytes: Uint8Array, paced = false): void {
    if (!this.isOpen) return
    const buffered = this.ws.bufferedAmount
    if (!paced && buffered > 0 && buffered + bytes.length > this.options.maxSendBufferBytes) {
      this.options.metrics.connectionsOverloaded.inc({ kind: this.kind })
      this.options.metrics.rejected('OVERLOADED')
      this.options.logger.warn(`${this.label}: send buffer over ${this.options.maxSendBufferBytes} bytes; closing`)
      this.closeSocket(CloseCode.OVERLOADED)
      return
    }
    this.options.metrics.bytesOut.inc({ kind: this.kind }, bytes.length)
    this.options.metrics.framesOut.inc({ kind: this.kind })
    this.ws.send(bytes, { binary: true, compress: false })
  }

  sendMessage(message: Message): void {
    this.send(encodeMessage(message))
  }

  /**
   * Explains the close in an `Error` frame, then closes with `code` (LinkTransport). The explanation
   * often quotes what the other side sent, cut to a length by the caller: half a surrogate pair is
   * replaced by U+FFFD, so the frame always encodes and the close always happens with `code`.
   */
  close(code: CloseCode, message: string): void {
    if (!this.isOpen) return
    const name = closeCodeName(code) ?? 'ERROR'
    this.sendMessage({ type: MessageType.Error, code: name, message: encodableText(message) })
    this.closeSocket(code)
  }

  /** Counts a refused frame or handshake, then closes with an explanation. */
  reject(reason: RejectReason, code: CloseCode, message: string): void {
    this.options.metrics.rejected(reason)
    this.options.logger.warn(`${this.label}: ${closeCodeName(code) ?? code}: ${message}`)
    if (this.isOpen) this.close(code, message)
    else this.closeSocket(code)
  }

  /** Ends the connection without a close handshake (dead peer). */
  terminate(): void {
    this.finish(1006, 'terminated')
    this.ws.terminate()
  }

  private onFrame(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.finished) return
    try {
      this.lastHeard = this.now()
      this.missedPongs = 0
      const bytes = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data
      this.options.metrics.bytesIn.inc({ kind: this.kind }, bytes.length)
      this.options.metrics.framesIn.inc({ kind: this.kind })
      if (!isBinary) {
        this.reject('TEXT_FRAME', CloseCode.BAD_FRAME, 'text frames are not part of the protocol')
        return
      }
      if (this.firstFrame) {
        this.firstFrame = false
        const version = peekHandshakeVersion(bytes)
        if (version !== undefined && version !== PROTOCOL_VERSION) {
          this.reject(
            'VERSION_MISMATCH',
            CloseCode.VERSION_MISMATCH,
            `protocol version ${version} is not supported; this node speaks version ${PROTOCOL_VERSION}`,
          )
          return
        }
      }
      let message: Message
      try {
        message = decodeMessage(bytes, { maxFrameBytes: this.options.maxFrameBytes })
      } catch (err) {
        if (err instanceof FrameTooLargeError) this.reject('TOO_LARGE', CloseCode.TOO_LARGE, err.message)
        else if (err instanceof DecodeError) {
          this.options.logger.warn(`${this.label}: ${err.reason}`)
          this.reject('BAD_FRAME', CloseCode.BAD_FRAME, 'the frame could not be decoded')
        } else throw err
        return
      }
      this.onMessage(message, bytes.length)
    } catch (err) {
      this.options.logger.error(`${this.label}: processing a frame failed`, err)
      this.reject('HANDLER_ERROR', CloseCode.BAD_FRAME, 'the frame could not be processed')
    }
  }

  private startHeartbeat(): void {
    if (this.finished || this.heartbeat !== null) return
    this.heartbeat = setInterval(() => {
      // Two pings went unanswered: the other end (or the path to it) is gone.
      if (this.missedPongs >= 2) {
        this.options.logger.warn(`${this.label}: no pong for two heartbeats; terminating`)
        this.terminate()
        return
      }
      this.missedPongs += 1
      try {
        this.ws.ping()
      } catch {
        // The socket is closing; its close event ends the connection.
      }
    }, this.options.heartbeatIntervalMs)
    this.heartbeat.unref()
  }

  private closeSocket(code: number): void {
    this.finish(code, closeReason(code))
    const state = this.ws.readyState
    if (state === WebSocket.CLOSED) return
    if (state === WebSocket.CONNECTING) {
      this.ws.terminate()
      return
    }
    if (state === WebSocket.OPEN) this.ws.close(code, closeReason(code))
    // A slow or silent other side must not hold the socket open for ws's 30 s default.
    setTimeout(() => {
      if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate()
    }, CLOSE_GRACE_MS).unref()
  }

  private finish(code: number, reason: string): void {
    if (this.finished) return
    this.finished = true
    if (this.heartbeat !== null) clearInterval(this.heartbeat)
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer)
    this.heartbeat = null
    this.handshakeTimer = null
    try {
      this.onClose(code, reason)
    } catch (err) {
      this.options.logger.error(`${this.label}: close handler failed`, err)
    }
  }

  /**
   * [PR2] ws refuses a frame above `maxPayload` while reading its header, before buffering it, and
   * closes with its own 1009 (and 1002/1007 for broken WebSocket framing). Meridian's table says
   * TOO_LARGE (4009) and BAD_FRAME (4000); ws offers no hook between the two, so its close is wrapped.
   */
  private mapWsCloseCodes(): void {
    const ws = this.ws
    const original = ws.close.bind(ws)
    ws.close = (code?: number, reason?: string | Buffer): void => {
      if (code === WS_MESSAGE_TOO_BIG) original(CloseCode.TOO_LARGE, closeReason(CloseCode.TOO_LARGE))
      else if (code !== undefined && WS_PROTOCOL_ERRORS.has(code)) original(CloseCode.BAD_FRAME, closeReason(CloseCode.BAD_FRAME))
      else original(code, reason)
    }
  }
}
