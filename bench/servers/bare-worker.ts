// Baseline for the Workers figures: the bare Hono app (bare-app.ts) as a Worker, served by the
// same `wrangler dev` as order-tracker so both pay the same local proxy.
import { app } from "./bare-app.js";

export default app;
