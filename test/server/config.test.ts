import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CONFIG_DEFAULTS, ConfigError, loadConfigFile, parseConfig } from '../../server/config.js'

const peer = { nodeId: 'us-1', region: 'us', url: 'ws://127.0.0.1:4102/peer', httpUrl: 'http://127.0.0.1:4102' }

function issuesOf(input: unknown): readonly string[] {
  try {
    parseConfig(input)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as ConfigError).issues
  }
  throw new Error('expected a ConfigError')
}

describe('parseConfig', () => {
  it('accepts the contract example and keeps its values', () => {
    const config = parseConfig({
      nodeId: 'eu-1',
      region: 'eu',
      host: '127.0.0.1',
      port: 4101,
      dataDir: '.meridian/eu-1',
      storage: 'file',
      peers: [peer],
      peerSecret: 'dev-secret-change-me',
      clientToken: null,
      collections: {
        notes: { mode: 'crdt', type: 'lww' },
        docs: { mode: 'crdt', type: 'yjs' },
        boards: { mode: 'crdt', type: 'automerge' },
        accounts: { mode: 'strict' },
      },
      heartbeatIntervalMs: 1000,
      maxFrameBytes: 16777216,
      reconnect: { minDelayMs: 100, maxDelayMs: 5000 },
      groupCommitMaxDelayMs: 2,
    })
    expect(config.peers).toEqual([peer])
    expect(config.collections.accounts).toEqual({ mode: 'strict' })
    expect(config.members).toEqual(['eu-1', 'us-1'])
  })

  it('fills in defaults', () => {
    const config = parseConfig({ nodeId: 'a', region: 'r' })
    expect(config).toMatchObject({
      host: CONFIG_DEFAULTS.host,
      port: CONFIG_DEFAULTS.port,
      storage: 'file',
      dataDir: '.meridian/a',
      peers: [],
      peerSecret: '',
      clientToken: null,
      collections: {},
      heartbeatIntervalMs: 1000,
      maxFrameBytes: 16 * 1024 * 1024,
      reconnect: { minDelayMs: 100, maxDelayMs: 5000 },
      groupCommitMaxDelayMs: 0,
      members: ['a'],
    })
  })

  it('re-parses its own output unchanged', () => {
    const config = parseConfig({ nodeId: 'a', region: 'r', peers: [{ ...peer, nodeId: 'b' }], peerSecret: 's' })
    expect(parseConfig(config)).toEqual(config)
    const solo = parseConfig({ nodeId: 'a', region: 'r' })
    expect(parseConfig(solo)).toEqual(solo)
  })

  it('names the JSON path of a bad peer url', () => {
    expect(issuesOf({ nodeId: 'a', region: 'r', peerSecret: 's', peers: [{ ...peer, url: 'http://x/peer' }] })).toContain(
      'config.peers[0].url: expected a ws:// URL, got "http://x/peer"',
    )
  })

  it('rejects unknown keys at every level', () => {
    const issues = issuesOf({
      nodeId: 'a',
      region: 'r',
      colour: 'blue',
      peerSecret: 's',
      peers: [{ ...peer, weight: 1 }],
      reconnect: { minDelayMs: 1, jitter: true },
      collections: { notes: { mode: 'crdt', type: 'lww', ttl: 3 } },
    })
    expect(issues).toEqual(
      expect.arrayContaining([
        'config.colour: unknown key',
        'config.peers[0].weight: unknown key',
        'config.reconnect.jitter: unknown key',
        'config.collections.notes.ttl: unknown key',
      ]),
    )
  })

  it('reports wrong types and missing required keys, all at once', () => {
    const issues = issuesOf({ port: 70000, storage: 'disk', heartbeatIntervalMs: 0, clientToken: 5 })
    expect(issues).toEqual(
      expect.arrayContaining([
        'config.nodeId: required',
        'config.region: required',
        'config.port: expected an integer from 0 to 65535, got number 70000',
        'config.storage: expected "file" or "memory", got "disk"',
        'config.heartbeatIntervalMs: expected an integer from 1 to 9007199254740991, got number 0',
        'config.clientToken: expected a non-empty string, got number 5',
      ]),
    )
  })

  it('checks collections, peers, secrets and members', () => {
    expect(issuesOf({ nodeId: 'a', region: 'r', collections: { notes: { mode: 'crdt', type: 'json' } } })).toEqual([
      'config.collections.notes.type: expected "lww", "yjs" or "automerge", got "json"',
    ])
    expect(issuesOf({ nodeId: 'a', region: 'r', collections: { a: { mode: 'strict', type: 'lww' } } })).toEqual([
      'config.collections.a.type: strict collections have no type',
    ])
    expect(issuesOf({ nodeId: 'a', region: 'r', collections: { _x: { mode: 'strict' } } })[0]).toMatch(/^config\.collections\._x: /)
    expect(issuesOf({ nodeId: 'a', region: 'r', peers: [peer] })).toEqual(['config.peerSecret: required when peers are configured'])
    expect(issuesOf({ nodeId: 'a', region: 'r', peerSecret: 's', peers: [peer, peer] })).toEqual([
      'config.peers[1].nodeId: duplicate peer "us-1"',
    ])
    expect(issuesOf({ nodeId: 'a', region: 'r', peerSecret: 's', peers: [{ ...peer, nodeId: 'a' }] })).toEqual([
      'config.peers[0].nodeId: a node cannot be its own peer',
    ])
    expect(issuesOf({ nodeId: 'a', region: 'r', peerSecret: 's', peers: [peer], members: ['a'] })).toEqual([
      'config.members: must include every peer; "us-1" is missing',
    ])
    expect(issuesOf({ nodeId: 'a', region: 'r', reconnect: { minDelayMs: 500, maxDelayMs: 100 } })).toEqual([
      'config.reconnect.maxDelayMs: must be >= minDelayMs (500), got 100',
    ])
    expect(issuesOf({ nodeId: 'a', region: 'r', peerSecret: 's', peers: [{ nodeId: 'b' }] })).toEqual([
      'config.peers[0].region: required',
      'config.peers[0].url: required',
      'config.peers[0].httpUrl: required',
    ])
    expect(issuesOf([])).toEqual(['config: expected an object, got an array'])
  })

  it('puts every issue in the message', () => {
    expect(() => parseConfig({ nodeId: '', region: 'r' })).toThrow(/config\.nodeId: expected a non-empty string/)
  })
})

describe('loadConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-config-'))

  it('reads and validates a file', async () => {
    const path = join(dir, 'ok.json')
    writeFileSync(path, JSON.stringify({ nodeId: 'a', region: 'r', storage: 'memory' }))
    expect((await loadConfigFile(path)).storage).toBe('memory')
  })

  it('explains missing files and bad JSON', async () => {
    await expect(loadConfigFile(join(dir, 'missing.json'))).rejects.toThrow(/file not found/)
    const path = join(dir, 'bad.json')
    writeFileSync(path, '{ "nodeId": ')
    await expect(loadConfigFile(path)).rejects.toThrow(/not valid JSON/)
  })
})

describe('parseConfig: resync budget and HTTP timeouts [PF4]', () => {
  it('defaults: 64 MiB of resends per 60 s (4 × maxSendBufferBytes when larger); headers 10 s, request 30 s, keep-alive 5 s', () => {
    expect(parseConfig({ nodeId: 'a', region: 'r' })).toMatchObject({
      resyncBudgetBytes: 64 * 1024 * 1024,
      resyncWindowMs: 60_000,
      httpHeadersTimeoutMs: 10_000,
      httpRequestTimeoutMs: 30_000,
      httpKeepAliveTimeoutMs: 5_000,
    })
    expect(parseConfig({ nodeId: 'a', region: 'r', maxSendBufferBytes: 32 * 1024 * 1024 }).resyncBudgetBytes).toBe(128 * 1024 * 1024)
    const set = parseConfig({ nodeId: 'a', region: 'r', resyncBudgetBytes: 9_000_000, resyncWindowMs: 1_000, httpHeadersTimeoutMs: 5, httpRequestTimeoutMs: 5, httpKeepAliveTimeoutMs: 7 })
    expect(set).toMatchObject({ resyncBudgetBytes: 9_000_000, resyncWindowMs: 1_000, httpHeadersTimeoutMs: 5, httpRequestTimeoutMs: 5, httpKeepAliveTimeoutMs: 7 })
  })

  it('refuses a budget below the send bound, a request timeout below the header timeout, and non-positive values', () => {
    expect(issuesOf({ nodeId: 'a', region: 'r', maxSendBufferBytes: 4096, resyncBudgetBytes: 2048 })).toEqual([
      'config.resyncBudgetBytes: must be >= maxSendBufferBytes (4096), got 2048',
    ])
    expect(issuesOf({ nodeId: 'a', region: 'r', httpHeadersTimeoutMs: 2_000, httpRequestTimeoutMs: 1_000 })).toEqual([
      'config.httpRequestTimeoutMs: must be >= httpHeadersTimeoutMs (2000), got 1000',
    ])
    expect(issuesOf({ nodeId: 'a', region: 'r', resyncWindowMs: 0, httpHeadersTimeoutMs: 0, httpKeepAliveTimeoutMs: 1.5, resyncBudgetBytes: '1' })).toEqual([
      'config.resyncBudgetBytes: expected an integer from 1024 to 9007199254740991, got "1"',
      'config.resyncWindowMs: expected an integer from 1 to 9007199254740991, got number 0',
      'config.httpHeadersTimeoutMs: expected an integer from 1 to 9007199254740991, got number 0',
      'config.httpKeepAliveTimeoutMs: expected an integer from 1 to 9007199254740991, got number 1.5',
    ])
  })

  it('value limits: defaults, lowered, never raised, and a document always fits a quarter frame', () => {
    expect(parseConfig({ nodeId: 'a', region: 'r' }).values).toEqual({ maxDepth: 64, maxKeyBytes: 1024, maxStringBytes: 512 * 1024, maxDocumentBytes: 1024 * 1024 })
    expect(parseConfig({ nodeId: 'a', region: 'r', values: { maxDepth: 8, maxDocumentBytes: 4096 } }).values).toEqual({ maxDepth: 8, maxKeyBytes: 1024, maxStringBytes: 512 * 1024, maxDocumentBytes: 4096 })
    // Small frames (tests) lower the default document size with them.
    expect(parseConfig({ nodeId: 'a', region: 'r', maxFrameBytes: 4096 }).values.maxDocumentBytes).toBe(1024)
    expect(issuesOf({ nodeId: 'a', region: 'r', values: { maxDepth: 65, maxStringBytes: 0, colour: 1 } })).toEqual([
      'config.values.colour: unknown key',
      'config.values.maxDepth: expected an integer from 1 to 64, got number 65',
      'config.values.maxStringBytes: expected an integer from 1 to 524288, got number 0',
    ])
    expect(issuesOf({ nodeId: 'a', region: 'r', maxFrameBytes: 4096, values: { maxDocumentBytes: 2048 } })).toEqual([
      'config.values.maxDocumentBytes: must be at most a quarter of maxFrameBytes (1024), so every write and document fits in a frame',
    ])
  })
})

describe('strict read defaults (docs/server.md, "Strict read defaults")', () => {
  it('are kept on strict collections and refused, with their path, when wrong or on a crdt collection', () => {
    const config = parseConfig({
      nodeId: 'a',
      region: 'r',
      collections: { accounts: { mode: 'strict', read: 'nearest', maxStalenessMs: 500, spreadReads: true }, plain: { mode: 'strict' } },
    })
    expect(config.collections.accounts).toEqual({ mode: 'strict', read: 'nearest', maxStalenessMs: 500, spreadReads: true })
    expect(config.collections.plain).toEqual({ mode: 'strict' })
    expect(
      issuesOf({
        nodeId: 'a',
        region: 'r',
        collections: {
          accounts: { mode: 'strict', read: 'closest', maxStalenessMs: -1, spreadReads: 'yes' },
          notes: { mode: 'crdt', type: 'lww', read: 'nearest' },
        },
      }),
    ).toEqual([
      'config.collections.accounts.read: expected "primary", "linearizable", "nearest", "replica", got "closest"',
      'config.collections.accounts.maxStalenessMs: expected an integer from 0 to 999999999, got number -1',
      'config.collections.accounts.spreadReads: expected true or false, got "yes"',
      'config.collections.notes.read: only strict collections have read defaults',
    ])
  })
})
