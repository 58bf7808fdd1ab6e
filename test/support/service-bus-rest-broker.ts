// A local stand-in for the Service Bus REST API (send, peek-lock receive, complete, unlock) that
// checks every SAS token the way Service Bus does: HMAC-SHA256 of `<url-encoded resource>\n<expiry>`
// with the shared access key, computed here independently with node:crypto. Locks expire, delivery
// counts grow, and after 10 deliveries a message moves to the dead-letter list. Test infrastructure.
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";

export interface ReceivedRestMessage {
	queue: string;
	messageId: string | undefined;
	label: string | undefined;
	contentType: string | undefined;
	body: string;
}

export interface RestBroker {
	baseUrl: string;
	connectionString(keyOverride?: string): string;
	/** Every message ever sent, in order (settled or not). */
	readonly messages: ReceivedRestMessage[];
	/** Messages still on `queue` (available or locked), or on any queue. */
	pending(queue?: string): number;
	readonly deadLetters: { messageId: string | undefined; reason: string }[];
	/** Why requests were refused (401s), newest last. */
	readonly refusals: string[];
	/** The next `count` sends get this status (e.g. 503) instead of being accepted. */
	failNext(status: number, count?: number): void;
	close(): Promise<void>;
}

function checkToken(
	header: string | undefined,
	resourceUri: string,
	keyName: string,
	key: string,
): string | undefined {
	if (!header?.startsWith("SharedAccessSignature ")) return "no SharedAccessSignature authorization";
	const fields = new URLSearchParams(header.slice("SharedAccessSignature ".length));
	const [sr, sig, se, skn] = ["sr", "sig", "se", "skn"].map((f) => fields.get(f));
	if (!sr || !sig || !se || !skn) return "token misses sr, sig, se or skn";
	if (skn !== keyName) return `unknown key name ${skn}`;
	if (sr.toLowerCase() !== resourceUri.toLowerCase()) return `token is for ${sr}, not ${resourceUri}`;
	if (Number(se) <= Date.now() / 1000) return "token expired";
	// URLSearchParams already decoded sr and sig once; the signed string uses the encoded resource.
	const expected = createHmac("sha256", key)
		.update(`${encodeURIComponent(sr)}\n${se}`)
		.digest();
	const given = Buffer.from(sig, "base64");
	if (given.length !== expected.length || !timingSafeEqual(given, expected))
		return "signature does not match";
	return undefined;
}

interface QueuedMessage {
	message: ReceivedRestMessage;
	sequenceNumber: number;
	deliveryCount: number;
	lock?: { token: string; until: number };
}

const MAX_DELIVERY_COUNT = 10;

export async function startRestBroker(
	options: { keyName?: string; key?: string; lockMs?: number } = {},
): Promise<RestBroker> {
	const keyName = options.keyName ?? "sender";
	const key = options.key ?? "c2VjcmV0LWtleQ==";
	const lockMs = options.lockMs ?? 30_000;
	const messages: ReceivedRestMessage[] = [];
	const queued: QueuedMessage[] = [];
	const deadLetters: { messageId: string | undefined; reason: string }[] = [];
	const refusals: string[] = [];
	let sequence = 0;
	let failures: { status: number; count: number } | undefined;
	let baseUrl = "";

	/** Locks the first available message, dead-lettering those past the max delivery count. */
	function lockNext(queue: string): QueuedMessage | undefined {
		const now = Date.now();
		for (let i = 0; i < queued.length; i++) {
			const q = queued[i] as QueuedMessage;
			if (q.message.queue !== queue || (q.lock && q.lock.until > now)) continue;
			if (q.deliveryCount >= MAX_DELIVERY_COUNT) {
				queued.splice(i--, 1);
				deadLetters.push({ messageId: q.message.messageId, reason: "MaxDeliveryCountExceeded" });
				continue;
			}
			q.deliveryCount++;
			q.lock = { token: randomUUID(), until: now + lockMs };
			return q;
		}
		return undefined;
	}

	function locked(sequenceNumber: string, token: string): number {
		return queued.findIndex(
			(q) =>
				String(q.sequenceNumber) === sequenceNumber && q.lock?.token === token && q.lock.until > Date.now(),
		);
	}

	const server: Server = createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on("data", (c) => chunks.push(c));
		req.on("end", async () => {
			const url = new URL(req.url ?? "/", baseUrl);
			const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
			const [queue, messagesSegment, ...rest] = parts;
			if (!queue || messagesSegment !== "messages") {
				res.writeHead(404).end();
				return;
			}
			const refusal = checkToken(req.headers.authorization, `${baseUrl}/${queue}`, keyName, key);
			if (refusal) {
				refusals.push(refusal);
				res.writeHead(401, { "content-type": "text/plain" }).end(`401 ${refusal}`);
				return;
			}
			if (req.method === "POST" && rest.length === 0) {
				if (failures && failures.count > 0) {
					failures.count--;
					res.writeHead(failures.status).end("injected failure");
					return;
				}
				const props = JSON.parse(String(req.headers.brokerproperties ?? "{}")) as Record<string, string>;
				const message = {
					queue,
					messageId: props.MessageId,
					label: props.Label,
					contentType: req.headers["content-type"],
					body: Buffer.concat(chunks).toString("utf8"),
				};
				messages.push(message);
				queued.push({ message, sequenceNumber: ++sequence, deliveryCount: 0 });
				res.writeHead(201).end();
				return;
			}
			if (req.method === "POST" && rest.length === 1 && rest[0] === "head") {
				const waitUntil = Date.now() + Number(url.searchParams.get("timeout") ?? "60") * 1000;
				let q = lockNext(queue);
				while (!q && Date.now() < waitUntil && !req.socket.destroyed) {
					await new Promise((resolve) => setTimeout(resolve, 25));
					q = lockNext(queue);
				}
				if (!q?.lock) {
					res.writeHead(204).end();
					return;
				}
				res.writeHead(201, {
					"content-type": q.message.contentType ?? "application/octet-stream",
					location: `${baseUrl}/${queue}/messages/${q.sequenceNumber}/${q.lock.token}`,
					brokerproperties: JSON.stringify({
						MessageId: q.message.messageId,
						Label: q.message.label,
						DeliveryCount: q.deliveryCount,
						LockToken: q.lock.token,
						SequenceNumber: q.sequenceNumber,
						LockedUntilUtc: new Date(q.lock.until).toUTCString(),
					}),
				});
				res.end(q.message.body);
				return;
			}
			if ((req.method === "DELETE" || req.method === "PUT") && rest.length === 2) {
				const at = locked(rest[0] as string, rest[1] as string);
				if (at < 0) {
					res.writeHead(404).end("no such locked message (lock lost)");
					return;
				}
				if (req.method === "DELETE") queued.splice(at, 1);
				else delete (queued[at] as QueuedMessage).lock;
				res.writeHead(200).end();
				return;
			}
			res.writeHead(405).end();
		});
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const { port } = server.address() as { port: number };
	baseUrl = `http://127.0.0.1:${port}`;
	return {
		baseUrl,
		connectionString: (keyOverride) =>
			`Endpoint=sb://127.0.0.1:${port}/;SharedAccessKeyName=${keyName};SharedAccessKey=${keyOverride ?? key};UseDevelopmentEmulator=true`,
		messages,
		pending: (queue) => queued.filter((q) => queue === undefined || q.message.queue === queue).length,
		deadLetters,
		refusals,
		failNext(status, count = 1) {
			failures = { status, count };
		},
		close: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}
