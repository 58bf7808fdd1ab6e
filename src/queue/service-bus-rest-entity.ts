// An Azure Service Bus entity (queue, topic or subscription) over the HTTP REST API: the connection
// string, the SAS token signed with Web Crypto, and the entity's address. Shared by the REST sender
// (service-bus-rest.ts) and the REST receiver (service-bus-rest-receiver.ts).

export interface ServiceBusConnection {
	/** https://<namespace>.servicebus.windows.net (http:// for the local emulator). */
	baseUrl: string;
	keyName?: string;
	key?: string;
	/** A ready-made token (`SharedAccessSignature=` in the connection string) instead of a key. */
	sharedAccessSignature?: string;
	entityPath?: string;
}

/** Parses `Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...[;EntityPath=...]`. */
export function parseServiceBusConnectionString(connectionString: string): ServiceBusConnection {
	const parts = new Map<string, string>();
	for (const part of connectionString.split(";")) {
		const at = part.indexOf("=");
		if (at > 0) parts.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
	}
	const endpoint = parts.get("endpoint");
	if (!endpoint) throw new Error("the Service Bus connection string has no Endpoint");
	let url: URL;
	try {
		url = new URL(endpoint);
	} catch {
		throw new Error(`the Service Bus Endpoint is not a URL: ${endpoint}`);
	}
	const emulator = parts.get("usedevelopmentemulator") === "true";
	const baseUrl = `${emulator ? "http" : "https"}://${url.host}`;
	const keyName = parts.get("sharedaccesskeyname");
	const key = parts.get("sharedaccesskey");
	const sharedAccessSignature = parts.get("sharedaccesssignature");
	if (!sharedAccessSignature && !(keyName && key)) {
		throw new Error(
			"the Service Bus connection string needs SharedAccessKeyName and SharedAccessKey (or SharedAccessSignature)",
		);
	}
	const entityPath = parts.get("entitypath");
	return {
		baseUrl,
		...(keyName ? { keyName } : {}),
		...(key ? { key } : {}),
		...(sharedAccessSignature ? { sharedAccessSignature } : {}),
		...(entityPath ? { entityPath } : {}),
	};
}

function base64(bytes: ArrayBuffer): string {
	let binary = "";
	for (const b of new Uint8Array(bytes)) binary += String.fromCharCode(b);
	return btoa(binary);
}

/**
 * A Service Bus SAS token for `resourceUri`, valid until `expiresAt` (seconds since the epoch):
 * HMAC-SHA256 over `<url-encoded resource>\n<expiry>` with the key as UTF-8, as Azure documents it
 * and @azure/core-amqp does it.
 */
export async function createSasToken(
	resourceUri: string,
	keyName: string,
	key: string,
	expiresAt: number,
): Promise<string> {
	const resource = encodeURIComponent(resourceUri);
	const hmacKey = await crypto.subtle.importKey(
		"raw",
		new TextEncoder().encode(key),
		{ name: "HMAC", hash: "SHA-256" },
		false,
		["sign"],
	);
	const signature = await crypto.subtle.sign(
		"HMAC",
		hmacKey,
		new TextEncoder().encode(`${resource}\n${expiresAt}`),
	);
	return `SharedAccessSignature sr=${resource}&sig=${encodeURIComponent(base64(signature))}&se=${expiresAt}&skn=${encodeURIComponent(keyName)}`;
}

/** One queue's REST address and its SAS authorization, shared by the sender and the receiver. */
export class ServiceBusRestEntity {
	readonly resourceUri: string;
	private readonly connection: ServiceBusConnection;
	private token?: { value: string; refreshAt: number };

	constructor(
		connectionString: string,
		queueName: string,
		private readonly tokenTtlSeconds = 3600,
		readonly fetch: typeof globalThis.fetch = (input, init) => globalThis.fetch(input, init),
	) {
		this.connection = parseServiceBusConnectionString(connectionString);
		this.resourceUri = `${this.connection.baseUrl}/${this.connection.entityPath ?? queueName}`;
	}

	/** The Authorization header: a token reused until 5 minutes before it expires. */
	async authorization(): Promise<string> {
		const { sharedAccessSignature, keyName, key } = this.connection;
		if (sharedAccessSignature) return sharedAccessSignature;
		const now = Math.floor(Date.now() / 1000);
		if (!this.token || now >= this.token.refreshAt) {
			const ttl = this.tokenTtlSeconds;
			const value = await createSasToken(this.resourceUri, keyName as string, key as string, now + ttl);
			this.token = { value, refreshAt: now + ttl - Math.min(300, ttl / 2) };
		}
		return this.token.value;
	}
}
