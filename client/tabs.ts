/**
 * `meridian/client/tabs`: the tabs of one app share one IndexedDB store and one connection
 * (docs/client.md, "Tabs"). The tab holding the Web Lock `meridian-tabs-1:<name>` leads: its client
 * holds the store and the connection, and a hub passes everything on over the BroadcastChannel of the
 * same name. The other tabs follow with replicas of their own; when the leader closes, the lock passes
 * to one of them, which opens the store and leads from then on, without its app noticing.
 */
import { DEFAULT_MAX_CONFLICTS_PER_DOCUMENT, type ClientOptions, type MeridianClient } from './client.js'
import { HubClient } from './hub-client.js'
import { checkModules } from './collections.js'
import { GLOBAL_TIMERS, type ConnectionStatus } from './connection.js'
import type { ConnectionError } from './errors.js'
import { openIdbClientStore, type IdbClientStoreOptions, type LockManagerLike } from './idb-store.js'
import { Listeners, reportListenerError } from './listeners.js'
import { cryptoRandom, randomClientId } from './random.js'
import { TabFollower } from './tab-follower.js'
import { TabHub } from './tab-hub.js'
import type { FollowerMessage, HubMessage, TabChannel, TabMessage } from './tab-messages.js'

export type TabRole = 'leader' | 'follower'

export interface TabClientOptions extends Omit<ClientOptions, 'store' | 'clientId'> {
  /** The IndexedDB database (`openIdbClientStore(name)`); the tabs that open the same name share it. */
  readonly name: string
  /** Options of the store the leader tab opens (`indexedDB`, `onClosed`, `lockWaitMs`). */
  readonly store?: Pick<IdbClientStoreOptions, 'indexedDB' | 'onClosed' | 'lockWaitMs'>
  /** The Web Locks manager; `navigator.locks` by default. Without one, every tab leads on its own. */
  readonly locks?: LockManagerLike
  /** Opens the channel the tabs talk over; `new BroadcastChannel(name)` by default. */
  readonly channel?: (name: string) => TabChannel
  /** How long a new tab waits for the leader tab to answer before `openTabClient` rejects. Default 10 000 ms. */
  readonly followTimeoutMs?: number
}

/** A client shared by the tabs of an app: the API of `MeridianClient`, whichever tab leads. */
export interface TabClient extends MeridianClient {
  /** `leader`: this tab holds the store and the connection; `follower`: the leader tab does, for this one. */
  readonly tabRole: TabRole
  /** Called when this tab becomes the leader (the leader tab closed). Returns the unsubscribe function. */
  onTabRole(listener: (role: TabRole) => void): () => void
}

const DEFAULT_FOLLOW_TIMEOUT_MS = 10_000
/** Raised whenever the messages of client/tab-messages.ts change incompatibly. */
const TAB_PROTOCOL_VERSION = 1

/**
 * Opens the app's client in this tab: the leader's, when no other tab of the app leads, or one that
 * follows the leader tab. Either way writes apply here at once, reach the other tabs at once, and
 * survive reloads (the leader's store keeps them); one connection serves every tab.
 *
 * @example
 * ```ts
 * import { openTabClient } from 'meridian/client/tabs'
 * const client = await openTabClient({ name: 'my-app', urls: ['wss://eu.example.com'] })
 * client.lww('todos').put('t1', { title: 'milk' })   // shows in every tab of the app
 * ```
 */
export async function openTabClient(options: TabClientOptions): Promise<TabClient> {
  if (!options || typeof options.name !== 'string' || options.name === '') throw new TypeError('openTabClient: options.name must be a non-empty string')
  const modules = checkModules(options.use)
  const locks = options.locks ?? (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks
  const openChannel = options.channel ?? defaultChannel()
  // The version of the tabs' messages is in the names: a tab of an older release of the app, still open
  // after a deploy, neither leads nor follows a newer one (whichever opens the store second is told
  // `locked` by the store's own lock).
  const lockName = `meridian-tabs-${TAB_PROTOCOL_VERSION}:${options.name}`
  if (locks === undefined || openChannel === null) {
    // Nothing to coordinate with: this tab leads alone (its store's own lock still keeps a second out).
    const client = new HubClient({ ...options, store: await openIdbClientStore(options.name, options.store ?? {}) })
    return new SharedTabClient(client, 'leader', () => client.close())
  }
  const channel = openChannel(lockName)
  const releaseLead = await tryLock(locks, lockName)
  if (releaseLead !== null) {
    let client: HubClient
    try {
      client = new HubClient({ ...options, store: await openIdbClientStore(options.name, { ...options.store, locks }) })
    } catch (error) {
      releaseLead()
      channel.close()
      throw error
    }
    const hub = new TabHub({ id: randomClientId(cryptoRandom), client, channel, timers: options.timers ?? GLOBAL_TIMERS })
    channel.onmessage = (event) => {
      if (isFollowerMessage(event.data)) ignoreMalformed(() => hub.receive(event.data as FollowerMessage))
    }
    hub.start()
    return new SharedTabClient(client, 'leader', async () => {
      // The hub first: the client's last saves are for the next leader to read, not to announce.
      hub.close()
      channel.close()
      await client.close()
      releaseLead()
    })
  }
  return follow(options, modules, locks, lockName, channel)
}

async function follow(
  options: TabClientOptions,
  modules: ReturnType<typeof checkModules>,
  locks: LockManagerLike,
  lockName: string,
  channel: TabChannel,
): Promise<TabClient> {
  const random = options.random ?? cryptoRandom
  let hub: TabHub | null = null
  let hubClient: HubClient | null = null
  const follower = new TabFollower({
    tab: randomClientId(random),
    modules,
    maxConflictsPerDocument: options.maxConflictsPerDocument ?? DEFAULT_MAX_CONFLICTS_PER_DOCUMENT,
    now: options.now ?? Date.now,
    random,
    // Once this tab leads, its follower talks to its own hub directly.
    send: (message) => (hub !== null ? hub.receive(message) : channel.postMessage(message)),
  })
  channel.onmessage = (event) => {
    const message = event.data as TabMessage
    ignoreMalformed(() => {
      if (isFollowerMessage(message)) hub?.receive(message)
      else if (hub === null) follower.receive(message as HubMessage)
    })
  }
  const abandon = new AbortController()
  let releaseLead: (() => void) | null = null
  const shared = new SharedTabClient(follower, 'follower', async () => {
    abandon.abort()
    await follower.close()
    hub?.close()
    channel.close()
    await hubClient?.close()
    releaseLead?.()
  })
  // Queued for the lead: granted when the leader tab closes (or crashes).
  void waitForLock(locks, lockName, abandon.signal).then(
    async (release) => {
      releaseLead = release
      try {
        // The old leader's store lock goes with its tab, maybe just after the tabs lock: wait for it.
        const store = await openIdbClientStore(options.name, { ...options.store, locks, whenLocked: 'wait' })
        if (abandon.signal.aborted) {
          await store.close()
          return
        }
        hubClient = new HubClient({ ...options, store })
        // The app has seen the former leader's strict write numbers: this client's follow them.
        hubClient.numberStrictWritesFrom(follower.nextStrictWriteId)
        hub = new TabHub({ id: randomClientId(random), client: hubClient, channel, timers: options.timers ?? GLOBAL_TIMERS, local: (message) => follower.receive(message) })
        hub.start()
        shared.becameLeader()
      } catch (error) {
        // This tab cannot lead (its store did not open): let another try.
        release()
        reportListenerError(error)
      }
    },
    () => undefined,
  )
  follower.hello()
  const timeoutMs = options.followTimeoutMs ?? DEFAULT_FOLLOW_TIMEOUT_MS
  const timers = options.timers ?? GLOBAL_TIMERS
  let timer: unknown = null
  try {
    await Promise.race([
      follower.ready,
      new Promise<never>((_, reject) => {
        timer = timers.setTimeout(() => reject(new Error(`openTabClient: the tab that leads ${JSON.stringify(options.name)} did not answer within ${timeoutMs} ms`)), timeoutMs)
      }),
    ])
  } catch (error) {
    await shared.close()
    throw error
  } finally {
    if (timer !== null) timers.clearTimeout(timer)
  }
  return shared
}

/**
 * The client the app holds: the leader's own client, or the tab's follower (which stays the app's
 * client when the tab becomes the leader: its documents, listeners and collections carry on).
 */
class SharedTabClient implements TabClient {
  private role: TabRole
  private readonly roleListeners = new Listeners<[TabRole]>()

  constructor(
    private readonly inner: MeridianClient,
    role: TabRole,
    private readonly stop: () => void | Promise<void>,
  ) {
    this.role = role
  }

  get tabRole(): TabRole {
    return this.role
  }

  onTabRole(listener: (role: TabRole) => void): () => void {
    return this.roleListeners.add(listener)
  }

  becameLeader(): void {
    this.role = 'leader'
    this.roleListeners.emit('leader')
  }

  get clientId(): string {
    return this.inner.clientId
  }
  get status(): ConnectionStatus {
    return this.inner.status
  }
  get server(): MeridianClient['server'] {
    return this.inner.server
  }
  get error(): ConnectionError | null {
    return this.inner.error
  }
  get outboxSize(): number {
    return this.inner.outboxSize
  }
  get vector(): MeridianClient['vector'] {
    return this.inner.vector
  }
  get stats(): MeridianClient['stats'] {
    return this.inner.stats
  }
  get syncState(): MeridianClient['syncState'] {
    return this.inner.syncState
  }
  get strictToken(): string | null {
    return this.inner.strictToken
  }
  onStatus: MeridianClient['onStatus'] = (listener) => this.inner.onStatus(listener)
  onError: MeridianClient['onError'] = (listener) => this.inner.onError(listener)
  onWriteRejected: MeridianClient['onWriteRejected'] = (listener) => this.inner.onWriteRejected(listener)
  onSyncState: MeridianClient['onSyncState'] = (listener) => this.inner.onSyncState(listener)
  onStrictOutcome: MeridianClient['onStrictOutcome'] = (listener) => this.inner.onStrictOutcome(listener)
  lww: MeridianClient['lww'] = (collection) => this.inner.lww(collection)
  yjs: MeridianClient['yjs'] = (collection) => this.inner.yjs(collection)
  automerge: MeridianClient['automerge'] = (collection) => this.inner.automerge(collection)
  strict: MeridianClient['strict'] = (collection, readDefaults) => this.inner.strict(collection, readDefaults)

  async close(): Promise<void> {
    this.roleListeners.clear()
    await this.stop()
  }
}

/** The lock if it is free now (held until the returned release is called), else null. */
function tryLock(locks: LockManagerLike, name: string): Promise<(() => void) | null> {
  return new Promise((resolve, reject) => {
    locks
      .request(name, { ifAvailable: true }, (lock) => {
        if (lock === null) {
          resolve(null)
          return
        }
        return new Promise<void>((release) => resolve(() => release()))
      })
      .catch(reject)
  })
}

/** The lock once free; rejects when `signal` aborts first. */
function waitForLock(locks: LockManagerLike, name: string, signal: AbortSignal): Promise<() => void> {
  return new Promise((resolve, reject) => {
    locks.request(name, { signal }, () => new Promise<void>((release) => resolve(() => release()))).catch(reject)
  })
}

function defaultChannel(): ((name: string) => TabChannel) | null {
  const Channel = (globalThis as { BroadcastChannel?: new (name: string) => TabChannel }).BroadcastChannel
  return Channel === undefined ? null : (name) => new Channel(name)
}

/** A message some other tab posted that does not have the shape its type says: nothing to do with it. */
function ignoreMalformed(handle: () => void): void {
  try {
    handle()
  } catch {
    // Ignored: the tabs' own messages are well formed; this one came from elsewhere on the origin.
  }
}

function isFollowerMessage(message: unknown): message is FollowerMessage {
  if (typeof message !== 'object' || message === null) return false
  const t = (message as { t?: unknown }).t
  return t === 'hello' || t === 'write' || t === 'interest' || t === 'bye' || t === 'strict-call' || t === 'strict-watch' || t === 'strict-unwatch'
}

// What a page that loads only this entry (meridian-tabs.js) needs besides `openTabClient`.
export { ClientStoreError, type ClientStoreErrorCode } from './idb-store.js'
export type { MeridianClient } from './client.js'
