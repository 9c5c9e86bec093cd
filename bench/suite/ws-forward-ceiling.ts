/**
 * The ceiling W3 is judged against, measured in the same run: the same encoded changes sent one frame
 * each through anchors/ws-forward.mjs (its own process) to two receivers, in windows like Meridian's
 * client (the next window goes once both receivers hold the last one).
 */
import { join } from 'node:path'
import WebSocket from 'ws'
import { AnchorProcess, BENCH_DIR } from './anchor-process.js'

export interface ForwardCeiling {
  changesPerSecond: number
  /** CPU seconds of the forwarding process over the run. */
  forwarderCpuSeconds: number
  forwarderRssMib: number
}

export async function measureForwardCeiling(changes: readonly Uint8Array[], window: number): Promise<ForwardCeiling> {
  const forwarder = await AnchorProcess.start('raw-ws', join(BENCH_DIR, 'suite', 'anchors', 'ws-forward.mjs'))
  const sockets: WebSocket[] = []
  try {
    const open = async (path: string): Promise<WebSocket> => {
      const ws = new WebSocket(`ws://127.0.0.1:${forwarder.port}${path}`)
      sockets.push(ws)
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve())
        ws.once('error', reject)
      })
      return ws
    }
    const received = [0, 0]
    let waiting: { target: number; resolve: () => void } | null = null
    const receivers = [await open('/out'), await open('/out')]
    receivers.forEach((ws, i) =>
      ws.on('message', () => {
        received[i] = (received[i] as number) + 1
        if (waiting !== null && Math.min(...received) >= waiting.target) {
          const { resolve } = waiting
          waiting = null
          resolve()
        }
      }),
    )
    const sender = await open('/in')
    const bothHold = (target: number) =>
      Math.min(...received) >= target ? Promise.resolve() : new Promise<void>((resolve) => (waiting = { target, resolve }))
    const cpuBefore = forwarder.cpuSeconds()
    const t0 = performance.now()
    for (let sent = 0; sent < changes.length; ) {
      const end = Math.min(changes.length, sent + window)
      for (; sent < end; sent++) sender.send(changes[sent] as Uint8Array)
      await bothHold(end)
    }
    const seconds = (performance.now() - t0) / 1000
    return { changesPerSecond: changes.length / seconds, forwarderCpuSeconds: forwarder.cpuSeconds() - cpuBefore, forwarderRssMib: forwarder.rssMib() }
  } finally {
    for (const ws of sockets) ws.terminate()
    await forwarder.stop()
  }
}
