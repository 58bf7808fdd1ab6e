// Spans and trace context, through the OpenTelemetry API only (runtime-neutral). The runtime entry
// registers an SDK when OTEL_EXPORTER_OTLP_ENDPOINT is set (src/observability/node-tracing.ts) and
// calls enableTracing(); until then inSpan() runs its work directly, so telemetry off costs a
// boolean test, not a no-op span per call.
import {
	type Attributes,
	type Context,
	context,
	propagation,
	type Span,
	type SpanKind,
	SpanStatusCode,
	trace,
} from "@opentelemetry/api";
import { currentLogContext, REQUEST_ID_PROPERTY } from "./context.js";

let enabled = false;

export function enableTracing(): void {
	enabled = true;
}

export function tracingEnabled(): boolean {
	return enabled;
}

const tracer = () => trace.getTracer("order-tracker");

/** Runs `work` in a span (ended when it settles; a throw marks it failed), or directly when tracing is off. */
export async function inSpan<T>(
	name: string,
	kind: SpanKind,
	attributes: Attributes,
	work: (span: Span | undefined) => Promise<T>,
	parent?: Context,
): Promise<T> {
	if (!enabled) return work(undefined);
	return tracer().startActiveSpan(name, { kind, attributes }, parent ?? context.active(), async (span) => {
		try {
			return await work(span);
		} catch (err) {
			span.recordException(err as Error);
			span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message ?? String(err) });
			throw err;
		} finally {
			span.end();
		}
	});
}

/**
 * A span that is over at once (something that happened). `measure` adds what is costly to know,
 * and runs only when the span is recorded (sampled).
 */
export function recordSpan(
	name: string,
	kind: SpanKind,
	attributes: Attributes,
	parent?: Context,
	measure?: () => Attributes,
): void {
	if (!enabled) return;
	const span = tracer().startSpan(name, { kind, attributes }, parent ?? context.active());
	if (measure && span.isRecording()) span.setAttributes(measure());
	span.end();
}

/**
 * Application properties for a message sent now: the request id that caused it, and the active
 * trace as W3C `traceparent`/`tracestate` plus `Diagnostic-Id` (what the Azure SDKs write), so the
 * receiver's work joins the sender's trace.
 */
export function originProperties(): Record<string, string> {
	const props: Record<string, string> = {};
	const requestId = currentLogContext()?.requestId;
	if (requestId) props[REQUEST_ID_PROPERTY] = requestId;
	if (enabled) {
		propagation.inject(context.active(), props);
		if (props.traceparent) props["Diagnostic-Id"] = props.traceparent;
	}
	return props;
}

/** The trace a received message belongs to: its `traceparent`, else its `Diagnostic-Id`. */
export function contextOfMessage(props: Record<string, unknown> | undefined): Context | undefined {
	if (!enabled || !props) return undefined;
	const text = (name: string) => {
		const key = Object.keys(props).find((k) => k.toLowerCase() === name.toLowerCase());
		const value = key === undefined ? undefined : props[key];
		return typeof value === "string" ? value : undefined;
	};
	const traceparent = text("traceparent") ?? text("Diagnostic-Id");
	if (!traceparent) return undefined;
	const tracestate = text("tracestate");
	return propagation.extract(context.active(), { traceparent, ...(tracestate ? { tracestate } : {}) });
}

/** The active span's context as a traceparent (to carry inside an event), when tracing. */
export function activeTraceparent(): string | undefined {
	if (!enabled) return undefined;
	const carrier: Record<string, string> = {};
	propagation.inject(context.active(), carrier);
	return carrier.traceparent;
}
