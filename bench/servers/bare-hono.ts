// Baseline for the REST figures on Node: the bare Hono app (bare-app.ts) on @hono/node-server.
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { app } from "./bare-app.js";

serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) => {
	console.log(JSON.stringify({ port: info.port }));
});
process.on("SIGTERM", () => process.exit(0));
