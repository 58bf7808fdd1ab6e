// The SignalR protocol as the @microsoft/signalr client speaks it over Server-Sent Events
// (ASP.NET Core's specs TransportProtocols.md and HubProtocol.md; the client's HttpConnection,
// ServerSentEventsTransport and HubConnection): negotiate answers, and JSON hub messages each ended
// by the record separator 0x1E, one per SSE `data:` frame. Runtime-neutral, no I/O.
import type { StoredEvent } from "./sse-event.js";

/** Ends every JSON hub protocol message. */
export const RECORD_SEPARATOR = "\u001e";

/** Hub protocol message types (HubProtocol.md). */
export const MessageType = {
	Invocation: 1,
	StreamItem: 2,
	Completion: 3,
	StreamInvocation: 4,
	CancelInvocation: 5,
	Ping: 6,
	Close: 7,
} as const;

const encoder = new TextEncoder();

/** One hub message (already JSON) as an SSE frame. */
export function frame(json: string): Uint8Array {
	return encoder.encode(`data: ${json}${RECORD_SEPARATOR}\n\n`);
}

/** The handshake response (`{}`): sent as soon as the stream opens (the client waits for it first). */
export const HANDSHAKE_OK = frame("{}");
/** A ping: keeps the client's server timeout (30 s by default) from running out. */
export const PING = frame(JSON.stringify({ type: MessageType.Ping }));

/** A close message; `allowReconnect` lets withAutomaticReconnect() connect again. */
export function closeFrame(allowReconnect: boolean, error?: string): Uint8Array {
	return frame(JSON.stringify({ type: MessageType.Close, ...(error ? { error } : {}), allowReconnect }));
}

/** A completion with an error, for an invocation the client made (clients may call nothing here). */
export function completionErrorFrame(invocationId: string, error: string): Uint8Array {
	return frame(JSON.stringify({ type: MessageType.Completion, invocationId, error }));
}

/** The handshake's error response (another protocol or version than JSON v1). */
export function handshakeErrorFrame(error: string): Uint8Array {
	return frame(JSON.stringify({ error }));
}

/**
 * The event as a SignalR invocation (`ReceiveOrderUpdate` or `OrderCreated`, one argument: the
 * order object the plain SSE stream carries), serialised once per event and kept on it.
 */
export function signalRBytesOf(e: StoredEvent): Uint8Array {
	e.signalR ??= frame(`{"type":1,"target":${JSON.stringify(e.type)},"arguments":[${e.data}]}`);
	return e.signalR;
}

/** Body of a negotiate answer: only Server-Sent Events with text frames (no WebSockets, no long polling). */
export function negotiateAnswer(
	version: 0 | 1,
	connectionId: string,
	connectionToken: string,
): Record<string, unknown> {
	return {
		...(version === 1 ? { negotiateVersion: 1, connectionToken } : {}),
		// Version 0 clients use the connection id as the token (HttpConnection does the same).
		connectionId: version === 1 ? connectionId : connectionToken,
		availableTransports: [{ transport: "ServerSentEvents", transferFormats: ["Text"] }],
	};
}

/** What a client sent in one POST, as far as this server acts on it. */
export type ClientMessage =
	| { kind: "handshake"; protocol: unknown; version: unknown }
	| { kind: "ping" }
	| { kind: "invocation"; invocationId?: string; target?: string }
	| { kind: "close" }
	| { kind: "other"; type: number };

/** A POST body that is not the JSON hub protocol. */
export class HubProtocolError extends Error {}

/** Splits a POST body into its messages; the first may be the handshake request. */
export function parseClientMessages(body: string): ClientMessage[] {
	if (!body.endsWith(RECORD_SEPARATOR)) {
		throw new HubProtocolError("Every message must end with the record separator (0x1E).");
	}
	const out: ClientMessage[] = [];
	for (const text of body.slice(0, -1).split(RECORD_SEPARATOR)) {
		let message: unknown;
		try {
			message = JSON.parse(text);
		} catch {
			throw new HubProtocolError("A message is not JSON.");
		}
		if (typeof message !== "object" || message === null || Array.isArray(message)) {
			throw new HubProtocolError("A message is not a JSON object.");
		}
		const m = message as Record<string, unknown>;
		if (m.type === undefined && "protocol" in m) {
			out.push({ kind: "handshake", protocol: m.protocol, version: m.version });
			continue;
		}
		if (typeof m.type !== "number") throw new HubProtocolError("A message has no numeric type.");
		if (m.type === MessageType.Ping) out.push({ kind: "ping" });
		else if (m.type === MessageType.Close) out.push({ kind: "close" });
		else if (m.type === MessageType.Invocation || m.type === MessageType.StreamInvocation) {
			out.push({
				kind: "invocation",
				...(typeof m.invocationId === "string" ? { invocationId: m.invocationId.slice(0, 100) } : {}),
				...(typeof m.target === "string" ? { target: m.target.slice(0, 100) } : {}),
			});
		} else out.push({ kind: "other", type: m.type });
	}
	return out;
}
