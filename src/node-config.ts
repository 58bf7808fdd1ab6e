// The configuration as the Node entries read it: appsettings.json (or APPSETTINGS_PATH) overridden
// by the environment. Shared by `npm start` (src/node.ts) and `npm run import-legacy`
// (src/legacy-import/cli.ts), so the import writes to exactly the store the service reads.
import { readFileSync } from "node:fs";
import { type Config, ConfigError, resolveConfig } from "./config.js";

/** Throws ConfigError naming every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
	let settings: unknown = {};
	try {
		settings = JSON.parse(readFileSync(env.APPSETTINGS_PATH ?? "appsettings.json", "utf8"));
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
			throw new ConfigError([`appsettings.json: ${(err as Error).message}`]);
		}
	}
	return resolveConfig(settings, env);
}
