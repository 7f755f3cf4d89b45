// A bounded per-kind history of changes, so a client that reconnects with the last position it
// saw can be sent exactly what it missed, while it is still here.
import type { KubeObject } from "../informers/types.ts";

import type { ObjectEventType } from "./types.ts";

export interface HistoryEntry {
  position: bigint;
  type: ObjectEventType;
  object: KubeObject;
  oldObject: KubeObject | undefined;
}

export class ChangeHistory {
  private readonly entries: (HistoryEntry | undefined)[];
  private next = 0;
  private count = 0;
  /** Position before the oldest entry: a resume from here or later can be served. */
  private floor: bigint | undefined;

  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.entries = new Array(capacity);
  }

  push(entry: HistoryEntry): void {
    if (this.capacity === 0) {
      this.floor = entry.position;
      return;
    }
    const evicted = this.entries[this.next];
    if (evicted && this.count === this.capacity) this.floor = evicted.position;
    this.entries[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** Marks everything before `position` as unavailable (e.g. history started late). */
  startAt(position: bigint): void {
    if (this.count === 0) this.floor = position;
  }

  /**
   * The entries after `from`, oldest first, or undefined when some of them were already
   * evicted (the caller must resync). Changes synthesized by a relist can share one position;
   * such a group is replayed whole when the client stopped at its position (at-least-once
   * inside the group: a repeated DELETED or ADDED is harmless to a view keyed by object).
   */
  since(from: bigint): HistoryEntry[] | undefined {
    if (this.floor === undefined || from < this.floor) return undefined;
    const all: HistoryEntry[] = [];
    for (let i = 0; i < this.count; i++)
      all.push(this.entries[(this.next - this.count + i + this.capacity) % this.capacity]!);
    const atFrom = all.filter((e) => e.position === from).length;
    return all.filter((e) => e.position > from || (atFrom > 1 && e.position === from));
  }
}
