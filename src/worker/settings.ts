// Configuration on Workers: the same settings and `__` names as on Node (docs/configuration.md), read from the
// Worker's vars and secrets. A string binding is an override (`ServiceBus__ConnectionString`,
// `PORT`); a JSON var shaped like an appsettings section (`[vars.Hub]` in wrangler.toml) counts as
// settings, below the overrides.
import { type Config, resolveConfig } from "../config.js";
import type { WorkerEnv } from "./cloudflare.js";

export function configFromEnv(env: WorkerEnv): Config {
	const settings: Record<string, unknown> = {};
	const overrides: Record<string, string> = {};
	for (const [name, value] of Object.entries(env)) {
		if (typeof value === "string") overrides[name] = value;
		else if (typeof value === "object" && value !== null && value.constructor === Object)
			settings[name] = value;
	}
	return resolveConfig(settings, overrides);
}
