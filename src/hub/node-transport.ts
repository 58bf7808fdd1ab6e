// SSE transport for @hono/node-server that writes straight to Node's ServerResponse. docs/facts.md (SSE on Node)
// measured Hono's web-stream path at ~2x the memory and 3-4x the broadcast latency of a bare
// node:http broadcaster; this path gives the hub's shared bytes to socket.write() directly.
import type { IncomingMessage, ServerResponse } from "node:http";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { Context } from "hono";
import type { SseSink } from "./hub.js";
import type { SseTransport } from "./sse.js";

interface NodeBindings {
	incoming?: IncomingMessage;
	outgoing?: ServerResponse;
}

const frames = new WeakMap<Uint8Array, Buffer>();

/** The HTTP/1.1 chunk carrying `chunk`, built once per distinct chunk (the hub shares them). */
function frameOf(chunk: Uint8Array): Buffer {
	let frame = frames.get(chunk);
	if (!frame) {
		frame = Buffer.concat([Buffer.from(`${chunk.byteLength.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]);
		frames.set(chunk, frame);
	}
	return frame;
}

/** Falls back to `fallback` when the request did not come through @hono/node-server (app.request). */
export function nodeSseTransport(fallback: SseTransport): SseTransport {
	return {
		open(c: Context, headers, onClose) {
			const outgoing = (c.env as NodeBindings | undefined)?.outgoing;
			if (!outgoing) return fallback.open(c, headers, onClose);
			let closed = false;
			const finish = () => {
				if (closed) return;
				closed = true;
				onClose();
			};
			outgoing.on("close", finish);
			outgoing.socket?.setNoDelay(true);
			outgoing.socket?.setTimeout(0);
			outgoing.writeHead(200, Object.fromEntries(headers));
			outgoing.flushHeaders();
			// Once the head is on the socket, write the chunked-encoding frames to the socket ourselves:
			// the frame of a batch is built once for all subscribers (framesOf), and each write skips
			// ServerResponse's per-write framing and cork/uncork tick. end() still writes the last chunk.
			const socket = outgoing.socket;
			const direct = socket !== null && outgoing.writableLength === 0 && outgoing.chunkedEncoding === true;
			const sink: SseSink = {
				write(chunk) {
					if (closed) return;
					if (direct) socket.write(frameOf(chunk));
					else outgoing.write(chunk);
				},
				buffered: () => outgoing.writableLength + (socket?.writableLength ?? 0),
				close(mode = "end") {
					if (closed) return;
					if (mode === "abort") outgoing.destroy();
					else outgoing.end();
					finish();
				},
			};
			return { sink, response: RESPONSE_ALREADY_SENT };
		},
	};
}
