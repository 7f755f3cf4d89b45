// ListOptions from the query string, validated with the apiserver's rules
// (apimachinery/pkg/apis/meta/internalversion/validation): the same combinations are rejected
// with the same 422 messages, so clients meet here what they would meet on a real cluster.
import { badRequest, type FieldError, invalidListOptions, SandboxError } from "./errors.ts";

export interface ListOptions {
  watch: boolean;
  resourceVersion: string;
  resourceVersionMatch: string;
  limit: number;
  continue: string;
  allowWatchBookmarks: boolean;
  /** undefined when the parameter is absent (the apiserver distinguishes unset from false). */
  sendInitialEvents: boolean | undefined;
  timeoutSeconds: number;
  labelSelector: string;
  fieldSelector: string;
}

/** strconv.ParseBool, which the apiserver's query decoding uses. */
function parseBool(name: string, v: string | undefined): boolean | undefined {
  if (v === undefined || v === "") return undefined;
  if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false;
  throw new SandboxError(badRequest(`${name}: invalid boolean value "${v}"`));
}

function parseInteger(name: string, v: string | undefined): number {
  if (v === undefined || v === "") return 0;
  if (!/^-?\d+$/.test(v)) throw new SandboxError(badRequest(`${name}: invalid integer value "${v}"`));
  return Number(v);
}

export function parseListOptions(query: Record<string, string>): ListOptions {
  return {
    watch: parseBool("watch", query.watch) ?? false,
    resourceVersion: query.resourceVersion ?? "",
    resourceVersionMatch: query.resourceVersionMatch ?? "",
    limit: Math.max(0, parseInteger("limit", query.limit)),
    continue: query.continue ?? "",
    allowWatchBookmarks: parseBool("allowWatchBookmarks", query.allowWatchBookmarks) ?? false,
    sendInitialEvents: parseBool("sendInitialEvents", query.sendInitialEvents),
    timeoutSeconds: Math.max(0, parseInteger("timeoutSeconds", query.timeoutSeconds)),
    labelSelector: query.labelSelector ?? "",
    fieldSelector: query.fieldSelector ?? "",
  };
}

/** A specific resourceVersion as a number; "" and "0" are handled by the callers. */
export function parseResourceVersion(rv: string): number {
  if (!/^\d+$/.test(rv)) throw new SandboxError(badRequest(`invalid resource version: "${rv}"`));
  return Number(rv);
}

/** Throws the 422 the apiserver answers for option combinations it forbids. */
export function validateListOptions(o: ListOptions, watchListEnabled: boolean): void {
  const errs: FieldError[] = [];
  const match = o.resourceVersionMatch;
  const forbid = (field: string, detail: string) => errs.push({ field, type: "Forbidden", detail });
  if (o.watch) {
    if (o.sendInitialEvents !== undefined) {
      if (match !== "NotOlderThan") {
        forbid(
          "resourceVersionMatch",
          "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        );
      }
      if (!watchListEnabled) {
        forbid(
          "sendInitialEvents",
          "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",
        );
      }
    }
    if (match) {
      if (o.sendInitialEvents === undefined) {
        forbid(
          "resourceVersionMatch",
          "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        );
      }
      if (match !== "NotOlderThan") {
        errs.push({
          field: "resourceVersionMatch",
          type: "Unsupported value",
          detail: `"${match}": supported values: "NotOlderThan"`,
        });
      }
      if (o.continue)
        forbid("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided");
    }
  } else {
    if (match) {
      if (!o.resourceVersion) {
        forbid(
          "resourceVersionMatch",
          "resourceVersionMatch is forbidden unless resourceVersion is provided",
        );
      }
      if (o.continue)
        forbid("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided");
      if (match !== "Exact" && match !== "NotOlderThan") {
        errs.push({
          field: "resourceVersionMatch",
          type: "Unsupported value",
          detail: `"${match}": supported values: "Exact", "NotOlderThan", ""`,
        });
      }
      if (match === "Exact" && o.resourceVersion === "0") {
        forbid("resourceVersionMatch", `resourceVersionMatch "exact" is forbidden for resourceVersion "0"`);
      }
    }
    if (o.sendInitialEvents !== undefined)
      forbid("sendInitialEvents", "sendInitialEvents is forbidden for list");
  }
  if (errs.length > 0) throw new SandboxError(invalidListOptions(errs));
}
