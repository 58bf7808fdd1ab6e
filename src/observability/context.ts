// What a log line was caused by: the request (its id), the status change (order and message ids)
// and the trace. Kept in an AsyncLocalStorage so every line a request or a message causes carries
// it, whichever component writes the line. `node:async_hooks` is available on Node and in workerd
// with the nodejs_compat flag (wrangler.example.toml sets it).
import { AsyncLocalStorage } from "node:async_hooks";
import { isSpanContextValid, trace } from "@opentelemetry/api";

// A type, not an interface: it must fit Record<string, unknown> (a log line's fields).
export type LogContext = {
	requestId?: string;
	orderId?: string;
	messageId?: string;
};

const storage = new AsyncLocalStorage<LogContext>();

/** An id a caller may choose: short, printable, nothing a log or header could be confused by. */
const CALLER_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** Whether a caller's (or another producer's message's) request id is one we keep. */
export const isRequestId = (v: unknown): v is string => typeof v === "string" && CALLER_REQUEST_ID.test(v);

/** Runs `fn` with `fields` added to the context of every line it logs. */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
	return storage.run({ ...storage.getStore(), ...fields }, fn);
}

/** The application property a queue message's request id travels in. */
export const REQUEST_ID_PROPERTY = "requestId";

/** The context of a queue message's work: its id, and the id of the request that queued it. */
export function messageLogContext(messageId: string, properties?: Record<string, unknown>): LogContext {
	const requestId = properties?.[REQUEST_ID_PROPERTY];
	return { messageId, ...(isRequestId(requestId) ? { requestId } : {}) };
}

/**
 * Runs `fn` in a context of its own: `fields` only, nothing of whatever was running when it started
 * (a queue message's work must not carry the id of the request that happened to wake the loop).
 */
export function withOwnLogContext<T>(fields: LogContext, fn: () => T): T {
	return storage.run({ ...fields }, fn);
}

/** The current context, with the active trace's id when a trace is being recorded. */
export function currentLogContext(): (LogContext & { traceId?: string }) | undefined {
	const store = storage.getStore();
	const span = trace.getActiveSpan()?.spanContext();
	if (span && isSpanContextValid(span)) return { ...store, traceId: span.traceId };
	return store;
}
