// A local stand-in for the Service Bus REST send endpoint (POST /<queue>/messages) that checks
// the SAS token the way Service Bus does: HMAC-SHA256 of `<url-encoded resource>\n<expiry>` with
// the shared access key, computed here independently with node:crypto. Test infrastructure.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";

export interface ReceivedRestMessage {
	queue: string;
	messageId: string | undefined;
	label: string | undefined;
	contentType: string | undefined;
	body: string;
}

export interface RestVerifier {
	baseUrl: string;
	connectionString(keyOverride?: string): string;
	readonly messages: ReceivedRestMessage[];
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

export async function startRestVerifier(keyName = "sender", key = "c2VjcmV0LWtleQ=="): Promise<RestVerifier> {
	const messages: ReceivedRestMessage[] = [];
	const refusals: string[] = [];
	let failures: { status: number; count: number } | undefined;
	let baseUrl = "";
	const server: Server = createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on("data", (c) => chunks.push(c));
		req.on("end", () => {
			const m = /^\/([^/?]+)\/messages(?:\?.*)?$/.exec(req.url ?? "");
			if (req.method !== "POST" || !m?.[1]) {
				res.writeHead(404).end();
				return;
			}
			const queue = m[1];
			const refusal = checkToken(req.headers.authorization, `${baseUrl}/${queue}`, keyName, key);
			if (refusal) {
				refusals.push(refusal);
				res.writeHead(401, { "content-type": "text/plain" }).end(`401 ${refusal}`);
				return;
			}
			if (failures && failures.count > 0) {
				failures.count--;
				res.writeHead(failures.status).end("injected failure");
				return;
			}
			const props = JSON.parse(String(req.headers.brokerproperties ?? "{}")) as Record<string, string>;
			messages.push({
				queue,
				messageId: props.MessageId,
				label: props.Label,
				contentType: req.headers["content-type"],
				body: Buffer.concat(chunks).toString("utf8"),
			});
			res.writeHead(201).end();
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
