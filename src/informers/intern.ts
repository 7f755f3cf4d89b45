// A bounded string intern table for cached objects.
//
// JSON.parse gives every string value its own copy, so 50k pods hold 50k copies of their
// namespace, node name, image, label values, owner kind, condition types and timestamps
// (~1 KB per pod). Replacing each string with the first equal one seen keeps one copy; the
// objects stay exactly as the apiserver sent them.
//
// The table must not grow with the cache (names and uids are unique), so it has two
// generations of bounded size: a lookup that hits the old generation promotes the string, and
// when the young one fills it becomes the old one and the oldest is dropped. Strings that recur
// within a generation (the shared ones) stay; unique ones age out. Losing an entry only costs
// one more copy of a string, never correctness.

const MIN_LENGTH = 10;

export class StringInterner {
  private young = new Map<string, string>();
  private old = new Map<string, string>();
  readonly generationSize: number;
  /** Longer strings are rarely shared (certificates, JSON blobs) and not worth hashing. */
  readonly maxLength: number;

  constructor(generationSize = 8192, maxLength = 128) {
    this.generationSize = generationSize;
    this.maxLength = maxLength;
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  intern(s: string): string {
    // JSON.parse already internalizes values shorter than 10 characters (V8 keeps one copy in
    // its string table), so looking those up again would only cost time.
    if (s.length < MIN_LENGTH || s.length > this.maxLength) return s;
    let held = this.young.get(s);
    if (held !== undefined) return held;
    held = this.old.get(s) ?? s;
    if (this.young.size >= this.generationSize) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(held, held);
    return held;
  }

  /**
   * Interns every string value inside a freshly parsed JSON value, in place (property names are
   * already shared by JSON.parse). Returns the value, or its interned self for a string.
   */
  internDeep<T>(value: T): T {
    if (typeof value === "string") return this.intern(value) as T;
    if (typeof value !== "object" || value === null) return value;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const v = value[i];
        if (typeof v === "string") value[i] = this.intern(v);
        else if (typeof v === "object" && v !== null) this.internDeep(v);
      }
      return value;
    }
    const obj = value as Record<string, unknown>;
    for (const k in obj) {
      const v = obj[k];
      if (typeof v === "string") obj[k] = this.intern(v);
      else if (typeof v === "object" && v !== null) this.internDeep(v);
    }
    return value;
  }
}
