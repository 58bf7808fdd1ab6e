// A real OTLP/HTTP trace receiver for tests: listens on 127.0.0.1 (a free port), takes what an
// exporter POSTs to /v1/traces as http/json or http/protobuf (decoded with the OTLP protobuf
// definitions the exporter itself uses), and keeps the spans.
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

export interface ReceivedSpan {
	traceId: string;
	spanId: string;
	parentSpanId: string;
	name: string;
	/** 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
	kind: number;
	attributes: Record<string, unknown>;
	service: string;
}

interface ProtoDecoder {
	decode(bytes: Uint8Array): unknown;
	toObject(message: unknown, options: Record<string, unknown>): unknown;
}
const generated = createRequire(import.meta.url)(
	"@opentelemetry/otlp-transformer/build/src/generated/root.js",
);
const ExportTraceServiceRequest: ProtoDecoder =
	generated.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

type AnyValue = {
	stringValue?: string;
	intValue?: string | number;
	boolValue?: boolean;
	doubleValue?: number;
	arrayValue?: { values?: AnyValue[] };
};
type KeyValue = { key: string; value?: AnyValue };
type Request = {
	resourceSpans?: {
		resource?: { attributes?: KeyValue[] };
		scopeSpans?: {
			spans?: {
				traceId: string;
				spanId: string;
				parentSpanId?: string;
				name: string;
				kind: number;
				attributes?: KeyValue[];
			}[];
		}[];
	}[];
};

function plainValue(v: AnyValue | undefined): unknown {
	if (!v) return undefined;
	if (v.stringValue !== undefined) return v.stringValue;
	if (v.intValue !== undefined) return Number(v.intValue);
	if (v.boolValue !== undefined) return v.boolValue;
	if (v.doubleValue !== undefined) return v.doubleValue;
	if (v.arrayValue) return (v.arrayValue.values ?? []).map(plainValue);
	return undefined;
}
const attributesOf = (kvs: KeyValue[] | undefined) =>
	Object.fromEntries((kvs ?? []).map((kv) => [kv.key, plainValue(kv.value)]));

export class OtlpReceiver {
	readonly spans: ReceivedSpan[] = [];
	readonly contentTypes = new Set<string>();
	private constructor(
		private readonly server: Server,
		readonly endpoint: string,
	) {}

	static async start(): Promise<OtlpReceiver> {
		let receiver: OtlpReceiver | undefined;
		const server = createServer((req, res) => {
			const chunks: Buffer[] = [];
			req.on("data", (c: Buffer) => chunks.push(c));
			req.on("end", () => {
				const body = Buffer.concat(chunks);
				const type = String(req.headers["content-type"] ?? "");
				try {
					if (req.method !== "POST" || req.url !== "/v1/traces") throw new Error(`${req.method} ${req.url}`);
					receiver?.accept(type, body);
					res.writeHead(200, { "content-type": type.includes("json") ? "application/json" : type });
					res.end(type.includes("json") ? "{}" : undefined);
				} catch (err) {
					res.writeHead(400, { "content-type": "text/plain" });
					res.end((err as Error).message);
				}
			});
		});
		server.listen(0, "127.0.0.1");
		await once(server, "listening");
		const { port } = server.address() as AddressInfo;
		receiver = new OtlpReceiver(server, `http://127.0.0.1:${port}`);
		return receiver;
	}

	private accept(contentType: string, body: Buffer): void {
		this.contentTypes.add(contentType.split(";")[0] as string);
		let request: Request;
		if (contentType.includes("json")) request = JSON.parse(body.toString("utf8")) as Request;
		else {
			// bytes fields as hex, as the JSON encoding of OTLP has them
			const message = ExportTraceServiceRequest.decode(new Uint8Array(body));
			request = ExportTraceServiceRequest.toObject(message, { longs: String, bytes: Array }) as Request;
			for (const rs of request.resourceSpans ?? [])
				for (const ss of rs.scopeSpans ?? [])
					for (const span of ss.spans ?? []) {
						const hex = (v: unknown) => Buffer.from((v as number[] | undefined) ?? []).toString("hex");
						span.traceId = hex(span.traceId);
						span.spanId = hex(span.spanId);
						span.parentSpanId = hex(span.parentSpanId);
					}
		}
		for (const rs of request.resourceSpans ?? []) {
			const service = String(attributesOf(rs.resource?.attributes)["service.name"] ?? "");
			for (const ss of rs.scopeSpans ?? [])
				for (const span of ss.spans ?? []) {
					this.spans.push({
						traceId: span.traceId,
						spanId: span.spanId,
						parentSpanId: span.parentSpanId ?? "",
						name: span.name,
						kind: span.kind,
						attributes: attributesOf(span.attributes),
						service,
					});
				}
		}
	}

	/** Waits until a span matches (the exporter sends in batches, every few seconds at most). */
	async waitFor(match: (s: ReceivedSpan) => boolean, timeoutMs = 30_000): Promise<ReceivedSpan> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const found = this.spans.find(match);
			if (found) return found;
			if (Date.now() > deadline) {
				throw new Error(
					`no matching span in ${timeoutMs} ms; got: ${this.spans.map((s) => s.name).join(", ")}`,
				);
			}
			await new Promise((r) => setTimeout(r, 100));
		}
	}

	async close(): Promise<void> {
		this.server.closeAllConnections();
		await new Promise((resolve) => this.server.close(resolve));
	}
}
