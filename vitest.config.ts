import { defineConfig } from "vitest/config";

export default defineConfig({
	test: {
		include: ["test/**/*.test.ts"],
		// One in-memory Azurite for the whole run; each test file uses its own tables.
		globalSetup: ["test/support/global-azurite.ts"],
		testTimeout: 30_000,
		hookTimeout: 30_000,
	},
});
