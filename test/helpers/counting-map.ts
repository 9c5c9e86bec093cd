/** A Map that counts single-entry lookups and whole-map scans, put in place of a replica's registers [PF3]. */
export class CountingMap<K, V> extends Map<K, V> {
  lookups = 0
  scans = 0
  override get(key: K): V | undefined {
    this.lookups += 1
    return super.get(key)
  }
  override has(key: K): boolean {
    this.lookups += 1
    return super.has(key)
  }
  override set(key: K, value: V): this {
    this.lookups += 1
    return super.set(key, value)
  }
  override [Symbol.iterator](): MapIterator<[K, V]> {
    this.scans += 1
    return super[Symbol.iterator]()
  }
  override entries(): MapIterator<[K, V]> {
    this.scans += 1
    return super.entries()
  }
  override keys(): MapIterator<K> {
    this.scans += 1
    return super.keys()
  }
  override values(): MapIterator<V> {
    this.scans += 1
    return super.values()
  }
  override forEach(callback: (value: V, key: K, map: Map<K, V>) => void, thisArg?: unknown): void {
    this.scans += 1
    super.forEach(callback, thisArg)
  }
}
