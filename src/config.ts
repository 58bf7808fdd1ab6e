// Configuration: appsettings.json in the original's shape, overridden by environment variables
// with `__` for nesting (ServiceBus__ConnectionString), plus PORT. Keys match case-insensitively,
// as .NET configuration does. Pure: the runtime entry reads the file and passes the environment.
import { z } from "zod";
import type { JwtOptions } from "./auth/jwt.js";
import type { HubOptions } from "./hub/hub.js";
import { LOG_LEVELS, type LogLevel } from "./observability/log.js";

const SECTIONS = [
	"TableStorage",
	"ServiceBus",
	"Cors",
	"Embedded",
	"Hub",
	"Idempotency",
	"Events",
	"Auth",
	"Logging",
	"Metrics",
] as const;

/** `<Your Service Bus Connection String>` and friends count as empty. */
const isPlaceholder = (v: string) => /^\s*<[^>]*>\s*$/.test(v) || v.trim() === "";
const optionalSecret = z
	.string()
	.optional()
	.transform((v) => (v === undefined || isPlaceholder(v) ? undefined : v.trim()));

/** An entity name, or nothing (placeholders count as nothing). */
const optionalName = z
	.string()
	.optional()
	.transform((v) => (v === undefined || isPlaceholder(v) ? undefined : v.trim()))
	.refine((v) => v === undefined || /^[A-Za-z0-9][A-Za-z0-9._\-/]{0,259}$/.test(v), {
		message: "must be 1-260 letters, digits, '.', '-', '_' or '/'",
	});

const originList = z.preprocess(
	(v) => {
		if (typeof v !== "string") return v;
		const t = v.trim();
		if (t.startsWith("[")) {
			try {
				return JSON.parse(t);
			} catch {
				return v;
			}
		}
		return t
			.split(",")
			.map((s) => s.trim())
			.filter(Boolean);
	},
	z.array(
		z.string().refine((o) => o === "*" || /^https?:\/\/[^/\s]+$/.test(o), {
			message: 'each origin must look like "http://host[:port]" (scheme and host, no path) or be "*"',
		}),
	),
);

const intFromString = (min: number, max: number) =>
	z.preprocess(
		(v) => (typeof v === "string" && v.trim() !== "" ? Number(v) : v),
		z
			.number({ error: `must be a whole number from ${min} to ${max}` })
			.int()
			.min(min)
			.max(max),
	);

const LEVEL_NAMES: Record<string, LogLevel> = {
	trace: "debug",
	debug: "debug",
	information: "info",
	info: "info",
	warning: "warn",
	warn: "warn",
	error: "error",
	critical: "error",
};
const logLevel = z.preprocess(
	(v) => (typeof v === "string" ? (LEVEL_NAMES[v.trim().toLowerCase()] ?? v) : v),
	z.enum(LOG_LEVELS as [LogLevel, ...LogLevel[]], { error: "must be debug, info, warn or error" }),
);

export const ConfigSchema = z
	.object({
		TableStorage: z
			.object({
				ConnectionString: optionalSecret,
				/** `https://<account>.table.core.windows.net`: reached with a managed identity, no key. */
				ServiceUri: optionalSecret.refine(
					(v) => v === undefined || /^https:\/\/[^\s/]+(\/[^\s]*)?$/.test(v),
					{
						message: "must be the account's https URL, like https://<account>.table.core.windows.net",
					},
				),
				TableName: z
					.string()
					.regex(
						/^[A-Za-z][A-Za-z0-9]{2,62}$/,
						"must be 3-63 letters or digits, starting with a letter (Azure table name rules)",
					)
					.default("OrderTracking"),
				TimeoutMs: intFromString(100, 120_000).default(5000),
			})
			.prefault({})
			.refine((t) => !(t.ConnectionString && t.ServiceUri), {
				message:
					"TableStorage:ConnectionString and TableStorage:ServiceUri are both set: use one (ServiceUri connects with a managed identity, ConnectionString with a key)",
			}),
		ServiceBus: z
			.object({
				ConnectionString: optionalSecret,
				/** `<namespace>.servicebus.windows.net`: reached with a managed identity, no key. */
				FullyQualifiedNamespace: optionalSecret.refine(
					(v) => v === undefined || /^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(v),
					{ message: "must be the namespace's host name, like <namespace>.servicebus.windows.net" },
				),
				QueueName: z
					.string()
					.regex(
						/^[A-Za-z0-9][A-Za-z0-9._\-/]{0,259}$/,
						"must be 1-260 letters, digits, '.', '-', '_' or '/'",
					)
					.default("OrderTracker"),
				/** Set: every instance's hub is fed from this topic (one subscription per instance). */
				TopicName: optionalName,
				/** This instance's subscription to TopicName. */
				SubscriptionName: optionalName,
			})
			.prefault({})
			.refine((sb) => !(sb.ConnectionString && sb.FullyQualifiedNamespace), {
				message:
					"ServiceBus:ConnectionString and ServiceBus:FullyQualifiedNamespace are both set: use one (FullyQualifiedNamespace connects with a managed identity, ConnectionString with a key)",
			})
			.refine((sb) => (sb.TopicName === undefined) === (sb.SubscriptionName === undefined), {
				message:
					"TopicName and SubscriptionName go together: set both (fan-out to every instance) or neither",
			}),
		Cors: z.object({ AllowedOrigins: originList.default(["http://localhost:3000"]) }).prefault({}),
		Embedded: z.object({ DataDir: z.string().min(1).default(".data") }).prefault({}),
		Hub: z
			.object({
				HistorySize: intFromString(0, 1_000_000).default(1000),
				HeartbeatMs: intFromString(1000, 3_600_000).default(15_000),
				RetryMs: intFromString(0, 3_600_000).default(2000),
				MaxSubscribers: intFromString(1, 1_000_000).default(10_000),
				MaxBufferedBytes: intFromString(1024, 1 << 30).default(256 * 1024),
				CoalesceMs: intFromString(0, 1000).default(50),
				/** Streams one principal may hold at once (with Auth:Mode Jwt). */
				MaxSubscribersPerPrincipal: intFromString(1, 100_000).default(10),
				/** Event log rows one caller's replays may read per minute; past it, `reset`. */
				MaxReplayReadsPerMinute: intFromString(1, 100_000_000).default(20_000),
			})
			.prefault({}),
		Events: z
			.object({
				/** How far back Last-Event-ID replays from the durable event log. */
				RetentionHours: intFromString(1, 24 * 366).default(24),
				/** How long an instance holds an event it is publishing before another may take over. */
				LeaseSeconds: intFromString(1, 3600).default(10),
				/** How often an instance looks for events a stopped instance left unpublished. */
				SweepSeconds: intFromString(1, 3600).default(30),
			})
			.prefault({}),
		Auth: z
			.object({
				Mode: z
					.string()
					.default("None")
					.transform((v, ctx) => {
						const mode = ["None", "Jwt"].find((m) => m.toLowerCase() === v.trim().toLowerCase());
						if (!mode) ctx.addIssue({ code: "custom", message: 'must be "None" or "Jwt"' });
						return (mode ?? "None") as "None" | "Jwt";
					}),
				Authority: optionalSecret,
				Audience: optionalSecret,
				Issuer: optionalSecret,
				JwksUri: optionalSecret,
				OwnerClaim: z.string().min(1).default("sub"),
				/** Signature algorithms accepted; a token naming another is refused. */
				Algorithms: z
					.preprocess(
						(v) =>
							typeof v === "string"
								? v
										.split(",")
										.map((a) => a.trim())
										.filter(Boolean)
								: v,
						z.array(
							z.enum([
								"RS256",
								"RS384",
								"RS512",
								"PS256",
								"PS384",
								"PS512",
								"ES256",
								"ES384",
								"ES512",
								"EdDSA",
							]),
						),
					)
					.default(["RS256"]),
				AllowAnonymous: z
					.preprocess((v) => (typeof v === "string" ? v.trim().toLowerCase() === "true" : v), z.boolean())
					.default(false),
			})
			.prefault({})
			.superRefine((auth, ctx) => {
				if (auth.Mode !== "Jwt") return;
				if (!auth.Audience)
					ctx.addIssue({ code: "custom", path: ["Audience"], message: "is required with Auth:Mode Jwt" });
				if (!auth.Authority && !(auth.Issuer && auth.JwksUri)) {
					ctx.addIssue({
						code: "custom",
						path: ["Authority"],
						message: "is required with Auth:Mode Jwt (or give Auth:Issuer and Auth:JwksUri)",
					});
				}
			}),
		Idempotency: z
			.object({
				/** How long a create's Idempotency-Key is remembered; after that it is a new key. */
				RetentionHours: intFromString(1, 24 * 366).default(24),
			})
			.prefault({}),
		// Logging:Level, else the original's Logging:LogLevel:Default (appsettings.json has it).
		Logging: z.preprocess(
			(v) => {
				if (typeof v !== "object" || v === null) return v;
				const { Level, LogLevel } = v as { Level?: unknown; LogLevel?: { Default?: unknown } };
				return Level === undefined && typeof LogLevel?.Default === "string"
					? { ...v, Level: LogLevel.Default }
					: v;
			},
			z
				.object({
					/** The lowest level written; .NET's names (Information, Warning, …) are understood too. */
					Level: logLevel.default("info"),
				})
				.prefault({}),
		),
		Metrics: z
			.object({
				/**
				 * With Auth:Mode Jwt, a scraper may present this as its bearer token instead of a token
				 * with Orders.ReadAll (Prometheus cannot fetch tokens from an OpenID provider).
				 */
				Token: optionalSecret
					.refine((v) => v === undefined || v.length >= 32, {
						message: "must be at least 32 characters (a random secret; anyone holding it reads /metrics)",
					})
					.refine((v) => v === undefined || /^[A-Za-z0-9\-._~+/]+=*$/.test(v), {
						message: "must be a bearer token's characters: letters, digits and - . _ ~ + / (= at the end)",
					}),
			})
			.prefault({}),
		Http: z
			.object({
				/**
				 * Behind a TLS-terminating proxy that sets X-Forwarded-Proto/-Host/-For (Container Apps,
				 * App Service, Front Door): believe them. Off, a client could claim any of them.
				 */
				TrustForwardedHeaders: z
					.preprocess((v) => (typeof v === "string" ? v.trim().toLowerCase() === "true" : v), z.boolean())
					.default(false),
			})
			.prefault({}),
		PORT: intFromString(0, 65535).default(5080),
	})
	.refine((c) => c.Auth.Mode !== "Jwt" || !c.Cors.AllowedOrigins.includes("*"), {
		path: ["Cors", "AllowedOrigins"],
		message:
			'must name the origins with Auth:Mode Jwt: a browser sends its session cookie only to origins listed, never to "*"',
	})
	.refine((c) => c.Events.LeaseSeconds * 1000 >= 2 * c.TableStorage.TimeoutMs, {
		path: ["Events", "LeaseSeconds"],
		message:
			"must be at least twice TableStorage:TimeoutMs: an instance's claim on an event it is publishing must outlast its storage calls",
	});

export type Config = z.output<typeof ConfigSchema>;

export class ConfigError extends Error {
	constructor(readonly problems: string[]) {
		super(`Invalid configuration:\n  ${problems.join("\n  ")}`);
		this.name = "ConfigError";
	}
}

type Json = Record<string, unknown>;

/** Every setting name below a section, so `tablestorage__tablename` finds `TableName`. */
const KNOWN_KEYS = [
	"ConnectionString",
	"TableName",
	"TimeoutMs",
	"QueueName",
	"AllowedOrigins",
	"DataDir",
	"HistorySize",
	"HeartbeatMs",
	"RetryMs",
	"MaxSubscribers",
	"MaxBufferedBytes",
	"CoalesceMs",
	"RetentionHours",
	"TopicName",
	"SubscriptionName",
	"LeaseSeconds",
	"SweepSeconds",
	"MaxSubscribersPerPrincipal",
	"Mode",
	"Authority",
	"Audience",
	"Issuer",
	"JwksUri",
	"OwnerClaim",
	"Algorithms",
	"AllowAnonymous",
	"Level",
	"LogLevel",
	"Default",
	"Token",
	"TrustForwardedHeaders",
	"MaxReplayReadsPerMinute",
	"ServiceUri",
	"FullyQualifiedNamespace",
];

function findKey(obj: Json, key: string): string {
	const lower = key.toLowerCase();
	return (
		Object.keys(obj).find((k) => k.toLowerCase() === lower) ??
		KNOWN_KEYS.find((k) => k.toLowerCase() === lower) ??
		key
	);
}

/** Sets a `__`-separated path into a nested object, matching existing keys case-insensitively. */
function setPath(target: Json, path: string[], value: string): void {
	let node = target;
	for (let i = 0; i < path.length - 1; i++) {
		const key = findKey(node, path[i] as string);
		const next = node[key];
		if (typeof next !== "object" || next === null) node[key] = /^\d+$/.test(path[i + 1] as string) ? [] : {};
		node = node[key] as Json;
	}
	node[findKey(node, path[path.length - 1] as string)] = value;
}

/** Brings top-level section names to their canonical spelling so the schema sees them. */
function canonicalSections(settings: Json): Json {
	const out: Json = {};
	for (const [k, v] of Object.entries(settings)) {
		const canonical = SECTIONS.find((s) => s.toLowerCase() === k.toLowerCase());
		out[canonical ?? k] = v;
	}
	return out;
}

export function resolveConfig(settings: unknown, env: Record<string, string | undefined>): Config {
	const merged: Json = canonicalSections(
		structuredClone(typeof settings === "object" && settings !== null ? (settings as Json) : {}),
	);
	for (const [name, value] of Object.entries(env)) {
		if (value === undefined) continue;
		const path = name.split("__");
		const section = SECTIONS.find((s) => s.toLowerCase() === path[0]?.toLowerCase());
		if (path.length < 2 || !section) continue;
		setPath(merged, [section, ...path.slice(1)], value);
	}
	if (env.PORT !== undefined) merged.PORT = env.PORT;
	const result = ConfigSchema.safeParse(merged);
	if (!result.success) {
		throw new ConfigError(result.error.issues.map((i) => `${i.path.join(":") || "(root)"}: ${i.message}`));
	}
	return result.data;
}

/** The hub's options from the Hub section (the Node entry and the Workers hub object share them). */
export function hubOptions(hub: Config["Hub"]): HubOptions {
	return {
		historySize: hub.HistorySize,
		heartbeatMs: hub.HeartbeatMs,
		retryMs: hub.RetryMs,
		maxSubscribers: hub.MaxSubscribers,
		maxBufferedBytes: hub.MaxBufferedBytes,
		coalesceMs: hub.CoalesceMs,
		maxReplayReadsPerMinute: hub.MaxReplayReadsPerMinute,
	};
}

/** What every store adapter takes from the configuration. */
export function storeOptions(config: Config): { timeoutMs: number; idempotencyRetentionMs: number } {
	return {
		timeoutMs: config.TableStorage.TimeoutMs,
		idempotencyRetentionMs: config.Idempotency.RetentionHours * 3600_000,
	};
}

/** The bearer-token verifier Auth configures; undefined with Auth:Mode None. */
export function jwtOptions(auth: Config["Auth"]): JwtOptions | undefined {
	if (auth.Mode !== "Jwt") return undefined;
	return {
		...(auth.Authority ? { authority: auth.Authority } : {}),
		...(auth.Issuer ? { issuer: auth.Issuer } : {}),
		...(auth.JwksUri ? { jwksUri: auth.JwksUri } : {}),
		audience: auth.Audience as string,
		algorithms: auth.Algorithms,
		ownerClaim: auth.OwnerClaim,
	};
}
