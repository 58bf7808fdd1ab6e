import { defineConfig } from "vitest/config";

export default defineConfig({
	test: {
		include: ["test/**/*.test.ts"],
		// One in-memory Azurite for the whole run; each test file uses its own tables.
		globalSetup: ["test/support/global-azurite.ts"],
		// One file at a time: several files start real servers, browsers, brokers and thousands of
		// sockets, and their timing assertions (resume within 2 s, exit within 5 s) should not depend
		// on what else happens to run on a 2-core machine.
		fileParallelism: false,
		testTimeout: 30_000,
		hookTimeout: 30_000,
	},
});
