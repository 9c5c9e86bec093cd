import { describe, expect, it } from 'vitest'
import { CONFIG_DEFAULTS, ConfigError, parseConfig } from '../../server/config.js'

/** [FO3] The failover-control keys of `strict` (docs/server.md, docs/strict-mode.md "Failover controls"). */
const base = {
  nodeId: 'a',
  region: 'r',
  peerSecret: 's',
  peers: [
    { nodeId: 'b', region: 'r', url: 'ws://127.0.0.1:4102/peer', httpUrl: 'http://127.0.0.1:4102' },
    { nodeId: 'c', region: 'r', url: 'ws://127.0.0.1:4103/peer', httpUrl: 'http://127.0.0.1:4103' },
  ],
}

function issuesOf(strict: unknown): readonly string[] {
  try {
    parseConfig({ ...base, strict })
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as ConfigError).issues
  }
  throw new Error('expected a ConfigError')
}

describe('[FO3] strict failover config keys', () => {
  it('defaults: no priorities, nobody noFailover, no lag limit; the timings keep their defaults', () => {
    const config = parseConfig(base)
    expect(config.strict).toMatchObject({ priorities: {}, noFailover: [], maxLagOnFailover: null, electionTimeoutMinMs: CONFIG_DEFAULTS.strict.electionTimeoutMinMs })
  })

  it('accepts priorities (integers >= 0), noFailover members and maxLagOnFailover (entries >= 0)', () => {
    const config = parseConfig({ ...base, strict: { priorities: { a: 2, b: 0 }, noFailover: ['c'], maxLagOnFailover: 0, heartbeatIntervalMs: 50 } })
    expect(config.strict).toMatchObject({ priorities: { a: 2, b: 0 }, noFailover: ['c'], maxLagOnFailover: 0, heartbeatIntervalMs: 50 })
  })

  it('refuses non-members, negative or fractional priorities, a non-array noFailover and a negative lag, each with its path', () => {
    expect(issuesOf({ priorities: { zz: 1 } })).toEqual(['config.strict.priorities: "zz" is not a member'])
    expect(issuesOf({ priorities: { b: -1 } })[0]).toMatch(/^config\.strict\.priorities\.b: expected an integer from 0/)
    expect(issuesOf({ priorities: { b: 1.5 } })[0]).toMatch(/^config\.strict\.priorities\.b: /)
    expect(issuesOf({ noFailover: 'c' })[0]).toMatch(/^config\.strict\.noFailover: expected an array of member ids/)
    expect(issuesOf({ noFailover: ['zz'] })).toEqual(['config.strict.noFailover: "zz" is not a member'])
    expect(issuesOf({ maxLagOnFailover: -1 })[0]).toMatch(/^config\.strict\.maxLagOnFailover: expected an integer from 0/)
    expect(issuesOf({ priorities: [] })[0]).toMatch(/^config\.strict\.priorities: expected an object/)
  })

  it('refuses controls under which no member could ever become primary', () => {
    expect(issuesOf({ noFailover: ['a', 'b'], priorities: { c: 0 } })).toEqual(['config.strict: every member is noFailover or priority 0, so none could ever become primary'])
    expect(parseConfig({ ...base, strict: { noFailover: ['a', 'b'] } }).strict.noFailover).toEqual(['a', 'b'])
  })
})

describe('strict.replicateFrom (cascading replicas, docs/strict-mode.md)', () => {
  it('defaults to {} and accepts chains and fan-outs of members', () => {
    expect(parseConfig(base).strict.replicateFrom).toEqual({})
    expect(parseConfig({ ...base, strict: { replicateFrom: { c: 'b', b: 'a' } } }).strict.replicateFrom).toEqual({ c: 'b', b: 'a' })
    expect(parseConfig({ ...base, strict: { replicateFrom: { b: 'a', c: 'a' } } }).strict.replicateFrom).toEqual({ b: 'a', c: 'a' })
  })

  it('refuses non-members, a member streaming from itself, non-string values and cycles, each with its path', () => {
    expect(issuesOf({ replicateFrom: { zz: 'a' } })).toEqual(['config.strict.replicateFrom: "zz" is not a member'])
    expect(issuesOf({ replicateFrom: { c: 'zz' } })).toEqual(['config.strict.replicateFrom.c: "zz" is not a member'])
    expect(issuesOf({ replicateFrom: { c: 'c' } })).toEqual(['config.strict.replicateFrom.c: a member cannot stream from itself'])
    expect(issuesOf({ replicateFrom: { c: 3 } })[0]).toMatch(/^config\.strict\.replicateFrom\.c: expected a non-empty string/)
    expect(issuesOf({ replicateFrom: ['a'] })[0]).toMatch(/^config\.strict\.replicateFrom: expected an object/)
    expect(issuesOf({ replicateFrom: { a: 'b', b: 'c', c: 'a' } })).toEqual(['config.strict.replicateFrom: a cycle a → b → c → a (some member must stream from the primary)'])
  })

  it('cascadeFallbackMs: null by default (derived from the heartbeat), an integer below the election timeout otherwise', () => {
    expect(parseConfig(base).strict.cascadeFallbackMs).toBeNull()
    expect(parseConfig({ ...base, strict: { cascadeFallbackMs: 150 } }).strict.cascadeFallbackMs).toBe(150)
    expect(issuesOf({ cascadeFallbackMs: 0 })[0]).toMatch(/^config\.strict\.cascadeFallbackMs: expected an integer from 1/)
    expect(issuesOf({ cascadeFallbackMs: 1000 })[0]).toMatch(/^config\.strict\.cascadeFallbackMs: must be below electionTimeoutMinMs \(1000\)/)
  })
})
