// metav1.Status bodies shaped like kube-apiserver's (k8s.io/apimachinery/pkg/api/errors), and
// the error the in-process API throws so that HTTP handlers can answer with the same Status.
import { qualifiedName, type SandboxResource } from "./resources.ts";

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusBody {
  kind: "Status";
  apiVersion: "v1";
  metadata: { resourceVersion?: string; continue?: string };
  status: "Failure";
  message: string;
  reason: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
  code: number;
}

export const REASONS: Readonly<Record<number, string>> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Expired",
  413: "RequestEntityTooLarge",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

export function statusBody(
  code: number,
  reason: string,
  message: string,
  details?: StatusBody["details"],
): StatusBody {
  // Key order as the apiserver writes it: details come before code.
  const head = {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
  } as const;
  return details ? { ...head, details, code } : { ...head, code };
}

/** Thrown by the in-process API; carries the Status an HTTP client would get. */
export class SandboxError extends Error {
  readonly status: StatusBody;
  constructor(status: StatusBody) {
    super(status.message);
    this.name = "SandboxError";
    this.status = status;
  }
  get code(): number {
    return this.status.code;
  }
}

function resourceDetails(res: SandboxResource, name: string) {
  return res.group ? { name, group: res.group, kind: res.resource } : { name, kind: res.resource };
}

export function notFound(res: SandboxResource, name: string): StatusBody {
  return statusBody(404, "NotFound", `${qualifiedName(res)} "${name}" not found`, resourceDetails(res, name));
}

export function alreadyExists(res: SandboxResource, name: string): StatusBody {
  return statusBody(
    409,
    "AlreadyExists",
    `${qualifiedName(res)} "${name}" already exists`,
    resourceDetails(res, name),
  );
}

export function conflict(res: SandboxResource, name: string): StatusBody {
  return statusBody(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualifiedName(res)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    resourceDetails(res, name),
  );
}

export function badRequest(message: string): StatusBody {
  return statusBody(400, "BadRequest", message);
}

export interface FieldError {
  field: string;
  type: "Forbidden" | "Unsupported value" | "Invalid value";
  detail: string;
}

const CAUSE_REASONS: Record<FieldError["type"], string> = {
  Forbidden: "FieldValueForbidden",
  "Unsupported value": "FieldValueNotSupported",
  "Invalid value": "FieldValueInvalid",
};

/** 422 for invalid ListOptions: `ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: ...`. */
export function invalidListOptions(errors: FieldError[]): StatusBody {
  const text = errors.map((e) => `${e.field}: ${e.type}: ${e.detail}`);
  return statusBody(
    422,
    "Invalid",
    `ListOptions.meta.k8s.io "" is invalid: ${text.length === 1 ? text[0] : `[${text.join(", ")}]`}`,
    {
      group: "meta.k8s.io",
      kind: "ListOptions",
      causes: errors.map((e) => ({
        reason: CAUSE_REASONS[e.type],
        message: `${e.type}: ${e.detail}`,
        field: e.field,
      })),
    },
  );
}

export function expired(message: string): StatusBody {
  return statusBody(410, "Expired", message);
}

/** "too old resource version: 5 (42)": the RV asked for, and the newest one no longer available. */
export function tooOldResourceVersion(rv: string | number, floor: number): StatusBody {
  return expired(`too old resource version: ${rv} (${floor})`);
}

/** A list or watch-list at an RV the server has not reached (storage.NewTooLargeResourceVersionError). */
export function tooLargeResourceVersion(rv: number, current: number): StatusBody {
  return statusBody(504, "Timeout", `Timeout: Too large resource version: ${rv}, current: ${current}`, {
    causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
    retryAfterSeconds: 1,
  });
}

/** etcd3 store: an exact-RV list whose revision was compacted. */
export const LIST_RV_EXPIRED_MESSAGE = "The resourceVersion for the provided list is too old.";

export const CONTINUE_EXPIRED_MESSAGE =
  "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/** Default bodies for injected failures (faults.failNext). */
export function injected(code: number, retryAfterSeconds?: number): StatusBody {
  const reason = REASONS[code] ?? "Unknown";
  const retry = retryAfterSeconds !== undefined ? { retryAfterSeconds } : undefined;
  switch (code) {
    case 429:
      return statusBody(429, reason, "Too many requests, please try again later.", {
        retryAfterSeconds: retryAfterSeconds ?? 1,
      });
    case 410:
      return expired(LIST_RV_EXPIRED_MESSAGE);
    case 500:
      return statusBody(500, reason, "Internal error occurred: injected by the sandbox", retry);
    case 503:
      return statusBody(503, reason, "The server is currently unable to handle the request", retry);
    default:
      return statusBody(code, reason, `injected failure (HTTP ${code})`, retry);
  }
}
