// Fuzz on the simulator (deterministic); the family itself is in test/helpers/fuzz-ws.ts, and
// a shorter pass runs against the real control plane in test/integration/fuzz.test.ts.
import { simTarget } from "../helpers/fuzz.ts";
import { fuzzWs } from "../helpers/fuzz-ws.ts";

fuzzWs(simTarget);
