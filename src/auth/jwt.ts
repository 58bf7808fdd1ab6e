// Bearer tokens verified with jose (no cryptography of our own): the signature against the
// provider's JWKS (cached; an unknown `kid` refetches the set, at most every 30 s, so key rotation
// needs no restart), `iss`, `aud`, `exp` and `nbf` with a minute of clock skew, and only the
// algorithms configured — never the one a token names (`alg: none` and HS/RS confusion fail).
import { createRemoteJWKSet, errors, jwtVerify } from "jose";
import { BoundedMap } from "../util/bounded-map.js";
import { type Principal, permissionsOf } from "./principal.js";

export interface JwtOptions {
	/** An OpenID Connect issuer: its discovery document names the issuer and the JWKS. */
	authority?: string;
	/** Instead of discovery: the issuer and the JWKS address. */
	issuer?: string;
	jwksUri?: string;
	audience: string;
	algorithms: string[];
	/** The claim that names an order's owner. */
	ownerClaim: string;
	clockToleranceSeconds?: number;
	/** The least time between two fetches of the key set for an unknown `kid`. Default 30 s. */
	jwksCooldownMs?: number;
	fetch?: typeof globalThis.fetch;
}

/** A token that cannot be trusted; `reason` goes to the caller in WWW-Authenticate. */
export class InvalidTokenError extends Error {
	constructor(readonly reason: string) {
		super(reason);
		this.name = "InvalidTokenError";
	}
}

/** Verified tokens, until they expire: a request with a token seen before costs no signature check. */
const VERIFIED_CAPACITY = 10_000;

export class JwtVerifier {
	private endpoints?: Promise<{ issuer: string; jwks: ReturnType<typeof createRemoteJWKSet> }>;
	private readonly verified = new BoundedMap<string, Principal>(VERIFIED_CAPACITY);

	constructor(private readonly options: JwtOptions) {}

	private resolve() {
		this.endpoints ??= (async () => {
			let { issuer, jwksUri } = this.options;
			if (this.options.authority) {
				const base = this.options.authority.replace(/\/+$/, "");
				const res = await (this.options.fetch ?? fetch)(`${base}/.well-known/openid-configuration`);
				if (!res.ok) throw new Error(`OpenID discovery at ${base} answered ${res.status}`);
				const doc = (await res.json()) as { issuer?: string; jwks_uri?: string };
				issuer ??= doc.issuer;
				jwksUri ??= doc.jwks_uri;
			}
			if (!issuer || !jwksUri)
				throw new Error("no issuer or JWKS address (Auth:Authority, or Auth:Issuer and Auth:JwksUri)");
			return {
				issuer,
				jwks: createRemoteJWKSet(new URL(jwksUri), {
					cooldownDuration: this.options.jwksCooldownMs ?? 30_000,
					cacheMaxAge: 10 * 60_000,
				}),
			};
		})().catch((err) => {
			this.endpoints = undefined; // discovery is tried again on the next request
			throw err;
		});
		return this.endpoints;
	}

	/** The principal a bearer token stands for; InvalidTokenError when it cannot be trusted. */
	async verify(token: string): Promise<Principal> {
		const known = this.verified.get(token);
		if (known && (known.expiresAt ?? 0) > Date.now()) return known;
		const { issuer, jwks } = await this.resolve();
		try {
			const { payload } = await jwtVerify(token, jwks, {
				issuer,
				audience: this.options.audience,
				algorithms: this.options.algorithms,
				clockTolerance: this.options.clockToleranceSeconds ?? 60,
			});
			const owner = payload[this.options.ownerClaim];
			// Accepted until exp plus the clock tolerance (as jwtVerify judges it): a token that has just
			// passed its exp by a few seconds is valid here, and its stream and cookie must live as long.
			const toleranceMs = (this.options.clockToleranceSeconds ?? 60) * 1000;
			const principal: Principal = {
				...(typeof owner === "string" && owner ? { id: owner } : {}),
				permissions: permissionsOf(payload as Record<string, unknown>),
				...(payload.exp !== undefined ? { expiresAt: payload.exp * 1000 + toleranceMs } : {}),
			};
			if (principal.id === undefined)
				throw new InvalidTokenError(`the token has no ${this.options.ownerClaim} claim`);
			if (principal.expiresAt === undefined) throw new InvalidTokenError("the token has no exp claim");
			this.verified.set(token, principal);
			return principal;
		} catch (err) {
			if (err instanceof InvalidTokenError) throw err;
			throw new InvalidTokenError(describe(err));
		}
	}
}

/** What a caller is told about a token refused (no key material, no internals). */
function describe(err: unknown): string {
	if (err instanceof errors.JWTExpired) return "the token has expired";
	if (err instanceof errors.JWTClaimValidationFailed) {
		if (err.claim === "nbf") return "the token is not valid yet";
		if (err.claim === "aud") return "the token is for another audience";
		if (err.claim === "iss") return "the token is from another issuer";
		return `the token's ${err.claim} claim is not acceptable`;
	}
	if (err instanceof errors.JOSEAlgNotAllowed) return "the token's algorithm is not allowed";
	if (err instanceof errors.JWKSNoMatchingKey) return "the token is not signed by a key of the issuer";
	if (err instanceof errors.JWSSignatureVerificationFailed) return "the token's signature is not valid";
	return "the token is malformed";
}
