// Connecting to Azure without a key: DefaultAzureCredential (@azure/identity) when the settings name
// the service (TableStorage:ServiceUri, ServiceBus:FullyQualifiedNamespace) instead of a connection
// string. On Container Apps and App Service it takes a token from the platform's managed-identity
// endpoint (IDENTITY_ENDPOINT/IDENTITY_HEADER), on AKS from workload identity, on a laptop from
// `az login`; AZURE_CLIENT_ID picks a user-assigned identity. See docs/deploy-azure.md.
import type { TokenCredential } from "@azure/identity";

export type { TokenCredential };

/** The Azure built-in roles the service's identity needs, one per kind of access. */
export const AZURE_ROLES = {
	tables: "Storage Table Data Contributor",
	send: "Azure Service Bus Data Sender",
	receive: "Azure Service Bus Data Receiver",
} as const;
export type AzureRole = (typeof AZURE_ROLES)[keyof typeof AZURE_ROLES];

/**
 * The credential for every Azure client of this process. @azure/identity is loaded only here, on
 * first use: a service configured with connection strings never loads it.
 */
export async function defaultAzureCredential(
	env: Record<string, string | undefined>,
): Promise<TokenCredential> {
	const { DefaultAzureCredential } = await import("@azure/identity");
	const clientId = env.AZURE_CLIENT_ID?.trim();
	return new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
}

/** Names of the errors @azure/identity throws when it cannot get a token at all. */
const CREDENTIAL_ERRORS = new Set([
	"AggregateAuthenticationError",
	"CredentialUnavailableError",
	"AuthenticationError",
	"AuthenticationRequiredError",
]);

/** Whether `err` (or one of its causes) says no token could be had: no identity, or the endpoint refused. */
export function isCredentialError(err: unknown): boolean {
	for (let e = err, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
		if (CREDENTIAL_ERRORS.has((e as { name?: unknown }).name as string)) return true;
		e = (e as { cause?: unknown }).cause;
	}
	return false;
}

/**
 * A request the identity made with a valid token and Azure refused for want of a role assignment.
 * Readiness reports `missingRole` and the log says which role to grant (src/health.ts).
 */
export class MissingRoleError extends Error {
	readonly reason = "unauthorized";
	constructor(
		readonly missingRole: AzureRole,
		readonly resource: string,
		options: { cause?: unknown } = {},
	) {
		super(
			`the identity lacks the role "${missingRole}" on ${resource}: grant it (see docs/deploy-azure.md)${
				options.cause instanceof Error ? `; Azure said: ${options.cause.message}` : ""
			}`,
			options,
		);
		this.name = "MissingRoleError";
	}
}

/** The role `err` says is missing, looking through causes. */
export function missingRoleOf(err: unknown): AzureRole | undefined {
	for (let e = err, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
		if (e instanceof MissingRoleError) return e.missingRole;
		e = (e as { cause?: unknown }).cause;
	}
	return undefined;
}
