import assert from "node:assert/strict";
import { test } from "node:test";
import { Backoff } from "../../src/informers/backoff.ts";

test("backoff grows by 2 from 800 ms to the 30 s cap, with jitter inside [ceiling/2, ceiling)", () => {
  let now = 0;
  const low = new Backoff({ random: () => 0, now: () => now });
  const high = new Backoff({ random: () => 0.999999, now: () => now });
  const ceilings = [800, 1600, 3200, 6400, 12800, 25600, 30000, 30000];
  for (const ceiling of ceilings) {
    now += 10;
    assert.equal(low.nextDelayMs(), ceiling / 2);
    const d = high.nextDelayMs();
    assert.ok(d < ceiling && d >= ceiling - 1, `delay ${d} for ceiling ${ceiling}`);
  }
});

test("backoff starts over after a long healthy period", () => {
  let now = 0;
  const b = new Backoff({ random: () => 0, now: () => now, resetAfterMs: 120_000 });
  b.nextDelayMs();
  b.nextDelayMs();
  assert.equal(b.nextDelayMs(), 1600);
  now += 121_000;
  assert.equal(b.nextDelayMs(), 400);
});
