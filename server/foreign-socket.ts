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
