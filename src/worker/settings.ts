// Configuration on Workers: the same settings and `__` names as on Node (docs/configuration.md), read from the
// Worker's vars and secrets. A string binding is an override (`ServiceBus__ConnectionString`,
// `PORT`); a JSON var shaped like an appsettings section (`[vars.Hub]` in wrangler.toml) counts as
// settings, below the overrides.
import { type Config, ConfigError, resolveConfig } from "../config.js";
import type { WorkerEnv } from "./cloudflare.js";

export function configFromEnv(env: WorkerEnv): Config {
	const settings: Record<string, unknown> = {};
	const overrides: Record<string, string> = {};
	for (const [name, value] of Object.entries(env)) {
		if (typeof value === "string") overrides[name] = value;
		else if (typeof value === "object" && value !== null && value.constructor === Object)
			settings[name] = value;
	}
	const config = resolveConfig(settings, overrides);
	// A Worker has no managed identity to take tokens from (docs/workers.md#managed-identity).
	const keyless = [
		config.TableStorage.ServiceUri && "TableStorage:ServiceUri",
		config.ServiceBus.FullyQualifiedNamespace && "ServiceBus:FullyQualifiedNamespace",
	].filter((key): key is string => typeof key === "string");
	if (keyless.length > 0)
		throw new ConfigError(
			keyless.map(
				(key) =>
					`${key}: managed identity is not available on Cloudflare Workers; set the connection string as a secret instead`,
			),
		);
	return config;
}
