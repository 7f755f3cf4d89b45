// A logger for kgql that keeps its lines, for tests that read what a request logged.

export type LogLine = Record<string, unknown>;

export interface CapturedLog {
  lines: LogLine[];
  /** Pass as kgql's `logger`. */
  logger: {
    info(fields: object, msg: string): void;
    warn(fields: object, msg: string): void;
    debug(fields: object, msg: string): void;
  };
  /** The lines of one request, once its request line is written (kgql writes it last). */
  linesOf(reqId: string | null): Promise<LogLine[]>;
}

export function captureLog(): CapturedLog {
  const lines: LogLine[] = [];
  const push = (level: string) => (fields: object, msg: string) => lines.push({ ...fields, msg, level });
  return {
    lines,
    logger: { info: push("info"), warn: push("warn"), debug: push("debug") },
    async linesOf(reqId) {
      const until = Date.now() + 3000;
      while (!lines.some((l) => l.reqId === reqId && l.msg === "request") && Date.now() < until)
        await new Promise((r) => setTimeout(r, 10));
      return lines.filter((l) => l.reqId === reqId);
    },
  };
}
