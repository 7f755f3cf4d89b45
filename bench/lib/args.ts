// Checked numeric command-line options for the bench scripts.
//
// parseArgs hands every value over as a string, and Number() of a typo is NaN ("1k"), 0 ("")
// or something unintended ("0x10", "1e3"): a benchmark would then run, for minutes, a case
// nobody asked for, or measure nothing. So each value is parsed here, strictly (decimal digits
// only), before any work starts; a bad one prints what was expected and the script's usage to
// stderr and exits 2, the code the scripts already use for a bad command line.
import { type ParseArgsConfig, parseArgs } from "node:util";

/** Prints the complaint and the usage to stderr and exits 2: a bad command line, no work done. */
export function usageError(message: string, usage: string): never {
  console.error(`${message}\n${usage}`);
  process.exit(2);
}

/**
 * parseArgs, with an unknown flag or a stray argument (`--profile dir` where --profile takes
 * none) reported as a bad command line rather than as a stack trace with exit 1.
 */
export function parseOptions<T extends ParseArgsConfig>(
  usage: string,
  config: T,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (!err.code?.startsWith("ERR_PARSE_ARGS_")) throw e;
    usageError(err.message ?? String(e), usage);
  }
}

const INTEGER = /^\d+$/;
const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;

/** The checked readers of one script's parsed options; a failed check exits via usageError. */
export function checkedOptions(values: Record<string, unknown>, usage: string) {
  /** The option's string; a non-string means a boolean or missing value, never a number. */
  const raw = (name: string): string => {
    const v = values[name];
    return typeof v === "string" ? v.trim() : "";
  };
  return {
    /** --name as an integer >= min (0 where "none" makes sense, 1 for counts that must not be 0). */
    int(name: string, min: number): number {
      const s = raw(name);
      const v = Number(s);
      if (!INTEGER.test(s) || !Number.isSafeInteger(v) || v < min)
        usageError(`--${name} needs an integer >= ${min}, not "${values[name]}"`, usage);
      return v;
    },
    /**
     * --name as a decimal number (fractions allowed, e.g. a rate of 0.5/s), > min when
     * exclusive (a rate of 0 would divide by zero), else >= min.
     */
    number(name: string, min: number, exclusive = false): number {
      const s = raw(name);
      const v = Number(s);
      if (!DECIMAL.test(s) || !Number.isFinite(v) || (exclusive ? v <= min : v < min))
        usageError(`--${name} needs a number ${exclusive ? ">" : ">="} ${min}, not "${values[name]}"`, usage);
      return v;
    },
    /** --name as a comma list of integers, each >= min (e.g. --connections 1,8: one run each). */
    intList(name: string, min: number): number[] {
      const parts = raw(name).split(",");
      return parts.map((p) => {
        const s = p.trim();
        const v = Number(s);
        if (!INTEGER.test(s) || !Number.isSafeInteger(v) || v < min)
          usageError(`--${name} needs a comma list of integers >= ${min}, not "${values[name]}"`, usage);
        return v;
      });
    },
  };
}
