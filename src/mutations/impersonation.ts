// Writes are made as the caller, never with kgql's own rights: with --auth kubernetes kgql
// impersonates the user its TokenReview returned (name, groups, uid, extras), so the apiserver's
// RBAC and admission decide exactly as for the caller's own request, and its audit log names
// the caller (with kgql as the impersonator). kgql's service account needs only `impersonate`.
import type { OutgoingHttpHeaders } from "node:http";
import type { UserInfo } from "../auth/authenticator.ts";

/** The Impersonate-* headers that make a request the caller's. */
export function impersonationHeaders(user: UserInfo): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { "Impersonate-User": user.username };
  // system:authenticated is added by the apiserver to every impersonated user itself.
  const groups = user.groups.filter((g) => g !== "system:authenticated");
  if (groups.length) headers["Impersonate-Group"] = groups;
  if (user.uid) headers["Impersonate-Uid"] = user.uid;
  for (const [key, values] of Object.entries(user.extra ?? {})) {
    // Header names cannot hold every character an extra's key may (e.g. "/"): the apiserver
    // percent-decodes the part after the prefix.
    if (values.length) headers[`Impersonate-Extra-${extraKey(key)}`] = values;
  }
  return headers;
}

/** An extra's key as a header name token: characters outside RFC 7230's tchar percent-encoded. */
export function extraKey(key: string): string {
  return [...Buffer.from(key, "utf8")]
    .map((b) => {
      const c = String.fromCharCode(b);
      return /^[A-Za-z0-9!#$&'*+.^_`|~-]$/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
    })
    .join("");
}
