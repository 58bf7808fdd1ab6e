// The SignalR connection token: self-contained and signed, so that negotiate, the stream and each
// POST of one connection may reach different instances (no sticky sessions). It carries what a
// later request needs — the connection id, the stream's filters, who negotiated it — signed with
// HMAC-SHA256 under a secret every instance shares (EventLog.sharedSecret(): a row of the event
// log's table). Not secret itself (it is in URLs): it grants nothing without the caller's own
// credentials, which every request still carries. Readable, though (base64url JSON): it shows the
// caller's id and the stream's filters to whoever sees the URL. Web Crypto only: the same on Node and Workers.

export interface ConnectionClaims {
	/** The connection id (what the client calls connectionId). */
	connectionId: string;
	/** The stream's filters, validated at negotiate. */
	orderIds?: string[];
	partitionKey?: string;
	customerName?: string;
	/** The principal that negotiated (with auth on): only it may open the stream or post to it. */
	principalId?: string;
	/** When it was issued (ms since the epoch): the stream must open soon after. */
	issuedAt: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function base64url(bytes: Uint8Array): string {
	let binary = "";
	for (const b of bytes) binary += String.fromCharCode(b);
	return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array {
	const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
	return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** The longest token body verify() takes (the stream's `id` query parameter is bounded just above it). */
export const MAX_TOKEN_BODY = 4000;

/**
 * How long the shared secret is used before it is read again. The secret only changes when the
 * event log's table was deleted and made anew (its row goes with it); reading it again now and then
 * is how running instances come to agree on the new one without a restart.
 */
export const SECRET_REREAD_MS = 60_000;

/** Issues and checks connection tokens under one shared secret. */
export class ConnectionTokens {
	/** The key in use, and when its secret was read. */
	private key?: Promise<CryptoKey>;
	private readAt = 0;
	private rereading = false;

	/** `secret` is read on first use (it may need storage), then again every SECRET_REREAD_MS. */
	constructor(
		private readonly secret: () => Promise<string>,
		private readonly now: () => number = Date.now,
	) {}

	private readKey(): Promise<CryptoKey> {
		return this.secret().then((s) =>
			crypto.subtle.importKey("raw", encoder.encode(s), { name: "HMAC", hash: "SHA-256" }, false, [
				"sign",
				"verify",
			]),
		);
	}

	private hmacKey(): Promise<CryptoKey> {
		const now = this.now();
		if (!this.key) {
			const key = this.readKey();
			this.key = key;
			this.readAt = now;
			key.catch(() => {
				if (this.key === key) this.key = undefined; // storage was down: try again on the next request
			});
			return key;
		}
		// Read again in the background: requests go on with the key there is (also while storage
		// cannot be read; then it is tried again after another SECRET_REREAD_MS).
		if (now - this.readAt >= SECRET_REREAD_MS && !this.rereading) {
			this.rereading = true;
			this.readAt = now;
			this.readKey().then(
				(key) => {
					this.key = Promise.resolve(key);
					this.rereading = false;
				},
				() => {
					this.rereading = false;
				},
			);
		}
		return this.key;
	}

	/**
	 * A URL-safe token (the client puts it in URLs without encoding it); undefined when the claims
	 * (the stream's filters) make it longer than verify() would take.
	 */
	async issue(claims: ConnectionClaims): Promise<string | undefined> {
		const body = base64url(encoder.encode(JSON.stringify(claims)));
		if (body.length > MAX_TOKEN_BODY) return undefined;
		const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await this.hmacKey(), encoder.encode(body)));
		return `${body}.${base64url(mac)}`;
	}

	/** The claims of a token this service issued; undefined for anything else (forged, altered, garbage). */
	async verify(token: string): Promise<ConnectionClaims | undefined> {
		if (token.length > MAX_TOKEN_BODY + 44) return undefined;
		const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/.exec(token);
		if (!m) return undefined;
		const [, body, mac] = m as unknown as [string, string, string];
		let valid: boolean;
		try {
			valid = await crypto.subtle.verify(
				"HMAC",
				await this.hmacKey(),
				fromBase64url(mac) as Uint8Array<ArrayBuffer>,
				encoder.encode(body),
			);
		} catch (err) {
			if (err instanceof DOMException) return undefined; // not base64
			throw err;
		}
		if (!valid) return undefined;
		try {
			const claims = JSON.parse(decoder.decode(fromBase64url(body))) as ConnectionClaims;
			return typeof claims.connectionId === "string" && typeof claims.issuedAt === "number"
				? claims
				: undefined;
		} catch {
			return undefined;
		}
	}
}

/** A random secret for one process (an instance alone, or a log that keeps none). */
export function randomSecret(): string {
	return base64url(crypto.getRandomValues(new Uint8Array(32)));
}
