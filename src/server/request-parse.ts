// Requests yoga cannot take its GraphQL parameters from, answered with an error that says why.
//
// yoga's GET and form (application/x-www-form-urlencoded) parsers JSON.parse the `variables` and
// `extensions` parameters as they are: invalid JSON threw a SyntaxError, which yoga masked as a
// 500 "Unexpected error.". Here the same parameters are read as yoga reads them, and invalid
// JSON is a 400 BAD_USER_INPUT naming the parameter (as an invalid JSON body already is a 400).
// A POST in a content type no parser takes was a 415 with an empty body; it now says which
// content types are accepted.
import { GraphQLError } from "graphql";
import type { GraphQLParams, Plugin } from "graphql-yoga";
import { userError } from "../resolvers/errors.ts";
import { addCode, recordOf } from "./request-log.ts";

/** What yoga's request parsers take (createApp leaves multipart on). */
export const ACCEPTED_CONTENT_TYPES = [
  "application/json",
  "application/graphql+json",
  "application/graphql",
  "application/x-www-form-urlencoded",
  "multipart/form-data",
];

/** yoga's content-type test: the first of a (malformed) list, with or without parameters. */
function isContentType(request: Request, expected: string): boolean {
  const type = request.headers.get("content-type")?.split(",")[0];
  return type === expected || !!type?.startsWith(`${expected};`);
}

function jsonParam(search: URLSearchParams, name: "variables" | "extensions"): unknown {
  const text = search.get(name) || undefined;
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw userError(
      `the "${name}" parameter is not valid JSON: ${(err as Error).message}`,
      "BAD_USER_INPUT",
      {
        http: { status: 400 },
      },
    );
  }
}

/** The GraphQL parameters of a query string or form body, as yoga's handleURLSearchParams reads them. */
function paramsOf(search: URLSearchParams): GraphQLParams {
  return {
    operationName: search.get("operationName") || undefined,
    query: search.get("query") || undefined,
    variables: jsonParam(search, "variables") as GraphQLParams["variables"],
    extensions: jsonParam(search, "extensions") as GraphQLParams["extensions"],
  };
}

function unsupportedMediaType(request: Request): GraphQLError {
  const type = request.headers.get("content-type");
  return new GraphQLError(
    `${type ? `unsupported content type "${type}"` : "no content type"}: a POST body must be one of ${ACCEPTED_CONTENT_TYPES.join(", ")} (or send a GET with the query in the URL)`,
    { extensions: { code: "BAD_REQUEST", http: { status: 415 } } },
  );
}

/** A yoga plugin: must come after yoga's own parsers (user plugins do), whose choice it sees. */
export function useRequestParseErrors(): Plugin {
  return {
    onRequestParse({ request, url, requestParser, setRequestParser, serverContext }) {
      const noteCode = (code: string) => addCode(recordOf(serverContext), code);
      const parse = (search: URLSearchParams) => {
        try {
          return paramsOf(search);
        } catch (err) {
          noteCode("BAD_USER_INPUT");
          throw err;
        }
      };
      if (request.method === "GET") {
        setRequestParser(() => parse(url.searchParams));
      } else if (request.method === "POST") {
        if (isContentType(request, "application/x-www-form-urlencoded")) {
          setRequestParser(async (r) => parse(new URLSearchParams(await r.text())));
        } else if (!requestParser) {
          // yoga answers 405 to other methods (a later plugin): only a POST is refused here.
          setRequestParser(() => {
            noteCode("BAD_REQUEST");
            throw unsupportedMediaType(request);
          });
        }
      }
    },
  };
}
