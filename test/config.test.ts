import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, resolveConfig } from "../src/config.js";

const appsettings = JSON.parse(readFileSync("appsettings.json", "utf8"));

function problemsOf(fn: () => unknown): string[] {
	try {
		fn();
	} catch (err) {
		if (err instanceof ConfigError) return err.problems;
		throw err;
	}
	throw new Error("expected a ConfigError");
}

describe("configuration", () => {
	it("reads the shipped appsettings.json: placeholders count as empty, defaults fill the rest", () => {
		expect(resolveConfig(appsettings, {})).toEqual({
			TableStorage: { ConnectionString: undefined, TableName: "OrderTracking", TimeoutMs: 5000 },
			ServiceBus: {
				ConnectionString: undefined,
				QueueName: "OrderTracker",
				TopicName: undefined,
				SubscriptionName: undefined,
			},
			Cors: { AllowedOrigins: ["http://localhost:3000"] },
			Embedded: { DataDir: ".data" },
			Hub: {
				HistorySize: 1000,
				HeartbeatMs: 15_000,
				RetryMs: 2000,
				MaxSubscribers: 10_000,
				MaxBufferedBytes: 262_144,
				CoalesceMs: 50,
				MaxSubscribersPerPrincipal: 10,
				MaxReplayReadsPerMinute: 20_000,
			},
			Events: { RetentionHours: 24, LeaseSeconds: 10, SweepSeconds: 30 },
			Auth: {
				Mode: "None",
				Authority: undefined,
				Audience: undefined,
				Issuer: undefined,
				JwksUri: undefined,
				OwnerClaim: "sub",
				Algorithms: ["RS256"],
				AllowAnonymous: false,
			},
			Idempotency: { RetentionHours: 24 },
			Logging: { Level: "info" },
			Metrics: { Token: undefined },
			Http: { TrustForwardedHeaders: false },
			PORT: 5080,
		});
	});

	it("needs an audience and an authority (or issuer and JWKS) with Auth:Mode Jwt, and named CORS origins", () => {
		expect(problemsOf(() => resolveConfig(appsettings, { Auth__Mode: "jwt" }))).toEqual([
			"Auth:Audience: is required with Auth:Mode Jwt",
			"Auth:Authority: is required with Auth:Mode Jwt (or give Auth:Issuer and Auth:JwksUri)",
		]);
		const ok = resolveConfig(appsettings, {
			Auth__Mode: "Jwt",
			Auth__Audience: "api://x",
			Auth__Issuer: "https://idp.example",
			Auth__JwksUri: "https://idp.example/keys",
			Auth__Algorithms: "RS256, ES256",
		});
		expect(ok.Auth).toMatchObject({ Mode: "Jwt", Algorithms: ["RS256", "ES256"], OwnerClaim: "sub" });
		expect(
			problemsOf(() =>
				resolveConfig(appsettings, {
					Auth__Mode: "Jwt",
					Auth__Audience: "api://x",
					Auth__Authority: "https://idp.example",
					Cors__AllowedOrigins: "*",
				}),
			)[0],
		).toMatch(/^Cors:AllowedOrigins: must name the origins with Auth:Mode Jwt/);
		expect(problemsOf(() => resolveConfig(appsettings, { Auth__Mode: "Basic" }))).toEqual([
			'Auth:Mode: must be "None" or "Jwt"',
		]);
	});

	it("takes Logging:Level in its own names or .NET's, and a Metrics:Token long enough to be a secret", () => {
		expect(resolveConfig(appsettings, { Logging__Level: "Warning" }).Logging.Level).toBe("warn");
		expect(resolveConfig({ logging: { level: "Information" } }, {}).Logging.Level).toBe("info");
		expect(resolveConfig(appsettings, { LOGGING__LEVEL: "debug" }).Logging.Level).toBe("debug");
		// The original's setting, when Logging:Level is not given.
		expect(resolveConfig({ Logging: { LogLevel: { Default: "Warning" } } }, {}).Logging.Level).toBe("warn");
		expect(resolveConfig({}, { logging__loglevel__default: "Error" }).Logging.Level).toBe("error");
		expect(problemsOf(() => resolveConfig(appsettings, { Logging__Level: "loud" }))).toEqual([
			"Logging:Level: must be debug, info, warn or error",
		]);
		expect(problemsOf(() => resolveConfig(appsettings, { Metrics__Token: "short" }))).toEqual([
			"Metrics:Token: must be at least 32 characters (a random secret; anyone holding it reads /metrics)",
		]);
		expect(problemsOf(() => resolveConfig(appsettings, { Metrics__Token: `${"a".repeat(32)}!` }))).toEqual([
			"Metrics:Token: must be a bearer token's characters: letters, digits and - . _ ~ + / (= at the end)",
		]);
		const token = "a".repeat(32);
		expect(resolveConfig(appsettings, { Metrics__Token: token }).Metrics.Token).toBe(token);
	});

	it("refuses an event lease shorter than twice the storage timeout", () => {
		expect(problemsOf(() => resolveConfig(appsettings, { Events__LeaseSeconds: "5" }))).toEqual([
			"Events:LeaseSeconds: must be at least twice TableStorage:TimeoutMs: an instance's claim on an event it is publishing must outlast its storage calls",
		]);
		expect(
			resolveConfig(appsettings, { Events__LeaseSeconds: "2", TableStorage__TimeoutMs: "1000" }).Events
				.LeaseSeconds,
		).toBe(2);
	});

	it("takes a topic and this instance's subscription together, or neither", () => {
		const both = resolveConfig(appsettings, {
			ServiceBus__TopicName: "order-events",
			ServiceBus__SubscriptionName: "instance-a",
		});
		expect(both.ServiceBus).toMatchObject({ TopicName: "order-events", SubscriptionName: "instance-a" });
		expect(problemsOf(() => resolveConfig(appsettings, { ServiceBus__TopicName: "order-events" }))).toEqual([
			"ServiceBus: TopicName and SubscriptionName go together: set both (fan-out to every instance) or neither",
		]);
	});

	it("lets __-nested environment variables override settings, matching names in any case", () => {
		const config = resolveConfig(appsettings, {
			ServiceBus__ConnectionString: "Endpoint=sb://x/;SharedAccessKeyName=a;SharedAccessKey=b",
			tablestorage__tablename: "Orders2",
			Cors__AllowedOrigins: "http://a.example, https://b.example:8443",
			Embedded__DataDir: "/tmp/data",
			PORT: "6000",
			UNRELATED__THING: "ignored",
		});
		expect(config.ServiceBus.ConnectionString).toBe(
			"Endpoint=sb://x/;SharedAccessKeyName=a;SharedAccessKey=b",
		);
		expect(config.TableStorage.TableName).toBe("Orders2");
		expect(config.Cors.AllowedOrigins).toEqual(["http://a.example", "https://b.example:8443"]);
		expect(config.Embedded.DataDir).toBe("/tmp/data");
		expect(config.PORT).toBe(6000);
	});

	it("takes origins as a JSON array or ASP.NET-style indexed variables", () => {
		expect(resolveConfig({}, { Cors__AllowedOrigins: '["http://a.example"]' }).Cors.AllowedOrigins).toEqual([
			"http://a.example",
		]);
		expect(
			resolveConfig(appsettings, {
				Cors__AllowedOrigins__0: "http://x.example",
				Cors__AllowedOrigins__1: "http://y.example",
			}).Cors.AllowedOrigins,
		).toEqual(["http://x.example", "http://y.example"]);
	});

	it("treats a placeholder from the environment as empty", () => {
		expect(
			resolveConfig({}, { TableStorage__ConnectionString: "<Your Table Storage Connection String>" })
				.TableStorage.ConnectionString,
		).toBeUndefined();
	});

	it("stops on a bad value with a message naming the setting", () => {
		expect(
			problemsOf(() =>
				resolveConfig(appsettings, {
					TableStorage__TableName: "x",
					PORT: "eighty",
					Cors__AllowedOrigins: "localhost:3000/path",
					ServiceBus__QueueName: "bad queue",
				}),
			),
		).toEqual([
			expect.stringMatching(/^TableStorage:TableName: must be 3-63 letters/),
			expect.stringMatching(/^ServiceBus:QueueName: /),
			expect.stringMatching(/^Cors:AllowedOrigins:0: each origin must look like/),
			"PORT: must be a whole number from 0 to 65535",
		]);
	});
});
