// The OpenTelemetry SDK on Node, configured by the standard OTEL_* variables: on only when
// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set and OTEL_SDK_DISABLED
// is not "true". OTEL_EXPORTER_OTLP_PROTOCOL picks http/protobuf (default) or http/json;
// OTEL_SERVICE_NAME names the service (default order-tracker); OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG sample (read by the SDK); OTEL_EXPORTER_OTLP_HEADERS authenticate.
// Versions pinned for Node 20 (docs/facts.md).
// The SDK is imported only when tracing is on: with no endpoint none of it is loaded.
import { enableTracing } from "./tracing.js";

export interface NodeTracing {
	/** What was set up, for the start-up log line. */
	readonly description: string;
	/** Exports what is buffered, then stops. */
	shutdown(): Promise<void>;
}

/** Registers the SDK when the environment asks for traces; undefined (and nothing loaded) when not. */
export async function startNodeTracing(
	env: Record<string, string | undefined>,
): Promise<NodeTracing | undefined> {
	const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
	if (!endpoint || env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return undefined;
	const protocol = (
		env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ||
		env.OTEL_EXPORTER_OTLP_PROTOCOL ||
		"http/protobuf"
	)
		.trim()
		.toLowerCase();
	if (protocol !== "http/protobuf" && protocol !== "http/json") {
		throw new Error(
			`OTEL_EXPORTER_OTLP_PROTOCOL ${protocol} is not supported here: use http/protobuf or http/json (grpc needs a collector in between)`,
		);
	}
	const [{ resourceFromAttributes }, { BatchSpanProcessor }, { NodeTracerProvider }] = await Promise.all([
		import("@opentelemetry/resources"),
		import("@opentelemetry/sdk-trace-base"),
		import("@opentelemetry/sdk-trace-node"),
	]);
	// The exporters read the endpoint (adding /v1/traces to OTEL_EXPORTER_OTLP_ENDPOINT) and headers.
	const exporter =
		protocol === "http/json"
			? new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter()
			: new (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter();
	const serviceName = env.OTEL_SERVICE_NAME?.trim() || "order-tracker";
	const provider = new NodeTracerProvider({
		resource: resourceFromAttributes({ "service.name": serviceName }),
		spanProcessors: [new BatchSpanProcessor(exporter)],
	});
	provider.register(); // W3C trace context propagation, AsyncLocalStorage context
	enableTracing();
	return {
		description: `traces: OTLP ${protocol} to ${endpoint} as ${serviceName}`,
		shutdown: () => provider.shutdown(),
	};
}
