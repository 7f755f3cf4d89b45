// Authenticates callers by their bearer token with a TokenReview, as the apiserver would.
// Decisions are cached briefly; failures for a shorter time so a fixed token works quickly.
import { createHash } from "node:crypto";
import type { KubeClient } from "../informers/client.ts";
import { TtlCache } from "./cache.ts";

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** A request that cannot be authenticated: answered with HTTP 401 and this message. */
export class AuthenticationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuthenticationError";
  }
}

interface TokenReview {
  status?: { authenticated?: boolean; user?: UserInfo; error?: string };
}

export interface AuthenticatorOptions {
  ttlMs?: number;
  failureTtlMs?: number;
  maxEntries?: number;
}

export class TokenAuthenticator {
  private readonly client: KubeClient;
  private readonly cache: TtlCache<UserInfo | string>;
  private readonly ttlMs: number;
  private readonly failureTtlMs: number;

  constructor(client: KubeClient, opts: AuthenticatorOptions = {}) {
    this.client = client;
    this.cache = new TtlCache(opts.maxEntries ?? 10_000);
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.failureTtlMs = opts.failureTtlMs ?? 5_000;
  }

  get cacheStats() {
    return this.cache.stats;
  }

  /** Resolves the caller of an `Authorization` header value; throws AuthenticationError. */
  async authenticate(authorization: string | undefined | null): Promise<UserInfo> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    if (!match) {
      throw new AuthenticationError(
        authorization
          ? 'malformed Authorization header: expected "Bearer <token>"'
          : "missing bearer token: send your Kubernetes token as 'Authorization: Bearer <token>'",
      );
    }
    const token = match[1]!;
    // Tokens are never kept: the cache is keyed by their hash.
    const key = createHash("sha256").update(token).digest("base64url");
    const cached = this.cache.get(key);
    if (typeof cached === "string") throw new AuthenticationError(cached);
    if (cached) return cached;
    const review = await this.client.postJSON<TokenReview>("/apis/authentication.k8s.io/v1/tokenreviews", {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenReview",
      spec: { token },
    });
    if (!review.status?.authenticated || !review.status.user) {
      const message = `invalid bearer token: the Kubernetes API did not accept it${review.status?.error ? ` (${review.status.error})` : ""}`;
      this.cache.set(key, message, this.failureTtlMs);
      throw new AuthenticationError(message);
    }
    const user: UserInfo = { ...review.status.user, groups: review.status.user.groups ?? [] };
    this.cache.set(key, user, this.ttlMs);
    return user;
  }
}
