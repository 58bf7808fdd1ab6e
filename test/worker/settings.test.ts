// Workers' settings: the keyless keys are refused there, naming each one (a Worker has no managed
// identity to take tokens from: docs/workers.md#managed-identity).
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config.js";
import { configFromEnv } from "../../src/worker/settings.js";

describe("configFromEnv (Workers)", () => {
	it("refuses TableStorage:ServiceUri and ServiceBus:FullyQualifiedNamespace, naming both", () => {
		let error: unknown;
		try {
			configFromEnv({
				TableStorage__ServiceUri: "https://account.table.core.windows.net",
				ServiceBus__FullyQualifiedNamespace: "namespace.servicebus.windows.net",
			});
		} catch (err) {
			error = err;
		}
		expect(error).toBeInstanceOf(ConfigError);
		expect((error as ConfigError).problems).toEqual([
			expect.stringMatching(
				/^TableStorage:ServiceUri: managed identity is not available on Cloudflare Workers/,
			),
			expect.stringMatching(/^ServiceBus:FullyQualifiedNamespace: managed identity is not available/),
		]);
	});

	it("still takes connection strings", () => {
		const config = configFromEnv({
			ServiceBus__ConnectionString: "Endpoint=sb://x/;SharedAccessKeyName=k;SharedAccessKey=v",
		});
		expect(config.ServiceBus.ConnectionString).toMatch(/^Endpoint=sb:\/\/x\//);
	});
});
