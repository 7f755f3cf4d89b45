// A small TTL cache with a size bound, for authentication and authorization decisions.
export class TtlCache<V> {
  private readonly map = new Map<string, { value: V; expires: number }>();
  private readonly maxEntries: number;
  readonly stats = { hits: 0, misses: 0 };

  constructor(maxEntries = 10_000) {
    this.maxEntries = maxEntries;
  }

  get(key: string, now = Date.now()): V | undefined {
    const entry = this.map.get(key);
    if (!entry || entry.expires <= now) {
      if (entry) this.map.delete(key);
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    return entry.value;
  }

  set(key: string, value: V, ttlMs: number, now = Date.now()): void {
    if (this.map.size >= this.maxEntries) {
      // Evict the oldest insertion (Map keeps insertion order): bounded memory under churn.
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
    this.map.delete(key);
    this.map.set(key, { value, expires: now + ttlMs });
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}
