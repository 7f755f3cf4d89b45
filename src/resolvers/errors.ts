// GraphQL errors a user can act on: a code in extensions and a message that says what to fix.
import { GraphQLError } from "graphql";

export type ErrorCode =
  | "BAD_USER_INPUT"
  | "NOT_SYNCED"
  | "FORBIDDEN"
  | "UNAUTHENTICATED"
  | "LIMIT_EXCEEDED"
  /** A stream without markers (podEvents) lost events: the client must rebuild its view. */
  | "RESYNC_REQUIRED";

export function userError(
  message: string,
  code: ErrorCode = "BAD_USER_INPUT",
  extra: Record<string, unknown> = {},
) {
  return new GraphQLError(message, { extensions: { code, ...extra } });
}
