import type { TestProject } from "vitest/node";
import { startEmbeddedAzurite } from "../../src/storage/embedded-azurite.js";

declare module "vitest" {
	export interface ProvidedContext {
		azuriteConnectionString: string;
	}
}

export default async function setup(project: TestProject) {
	const azurite = await startEmbeddedAzurite();
	project.provide("azuriteConnectionString", azurite.connectionString);
	return () => azurite.close();
}
