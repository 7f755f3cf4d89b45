// Fuzz on the simulator (deterministic); the family itself is in test/helpers/fuzz-wire.ts, and
// a shorter pass runs against the real control plane in test/integration/fuzz.test.ts.
import { simTarget } from "../helpers/fuzz.ts";
import { fuzzWire } from "../helpers/fuzz-wire.ts";

fuzzWire(simTarget);
