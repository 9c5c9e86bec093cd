import WebSocket from 'ws'

/**
 * What the endpoints of other projects' protocols (`/yjs/:room`, `/automerge`) share: they speak no
 * Meridian frames, so none of ServerConnection's handshake or Error frames apply, only closing and
 * liveness.
 */

/** Closes with `code` and `reason` (cut to the 123 bytes a close frame allows), then terminates after 1 s. */
export function closeSocket(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === WebSocket.CLOSED || ws.readyState === WebSocket.CLOSING) return
  let cut = reason
  while (Buffer.byteLength(cut) > 123) cut = cut.slice(0, -1)
  ws.close(code, cut)
  setTimeout(() => ws.terminate(), 1000).unref()
}

/** Pings every `intervalMs`; a socket that sent nothing and answered no ping since the last is terminated. */
export function keepAlive(ws: WebSocket, intervalMs: number): void {
  let alive = true
  const timer = setInterval(() => {
    if (!alive) return ws.terminate()
    alive = false
    ws.ping()
  }, intervalMs)
  timer.unref()
  const heard = (): void => {
    alive = true
  }
  ws.on('pong', heard)
  ws.on('message', heard)
  ws.on('close', () => clearInterval(timer))
}

/** The foreign endpoints' "try again later" (4500–4599: y-websocket retries it; automerge-repo retries every close). */
export const FOREIGN_UNAVAILABLE = 4503

/** ws's own close code for a frame above `maxPayload`, which it refuses from the frame's header. */
const WS_MESSAGE_TOO_BIG = 1009
/** What the foreign endpoints close an oversized frame with: in 4400–4499, so that clients stop retrying. */
export const FOREIGN_TOO_LARGE = 4413

/**
 * ws refuses a frame above `maxPayload` before buffering it, and closes with 1009, which y-websocket's
 * provider retries: a provider whose update is too large would reconnect and resend it for ever. The
 * close is wrapped so that it says 4413 instead (as ServerConnection maps it to TOO_LARGE for /sync).
 */
export function refuseOversizeFrames(ws: WebSocket, maxFrameBytes: number): void {
  const original = ws.close.bind(ws)
  ws.close = (code?: number, reason?: string | Buffer): void => {
    if (code === WS_MESSAGE_TOO_BIG) original(FOREIGN_TOO_LARGE, `a frame above ${maxFrameBytes} bytes (limits.maxClientFrameBytes)`)
    else original(code, reason)
  }
}
