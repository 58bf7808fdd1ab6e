// One place that builds a ServiceBusClient (the status queue and the topic feed both use it): from
// a connection string (SAS key, or the local emulator), or from the namespace's host name and a token
// credential (a managed identity: src/azure-identity.ts). With a credential, Service Bus answers a
// link its identity may not use with "'Send' claim(s) are required" (or Listen) (docs/facts.md):
// serviceBusError turns that into a MissingRoleError naming the role to grant.
import { ServiceBusClient, type ServiceBusClientOptions } from "@azure/service-bus";
import { AZURE_ROLES, MissingRoleError, type TokenCredential } from "./azure-identity.js";

export type ServiceBusConnection = string | { fullyQualifiedNamespace: string; credential: TokenCredential };

export function createServiceBusClient(
	connection: ServiceBusConnection,
	options: ServiceBusClientOptions,
): ServiceBusClient {
	return typeof connection === "string"
		? new ServiceBusClient(connection, options)
		: new ServiceBusClient(connection.fullyQualifiedNamespace, connection.credential, options);
}

/** `err`, or a MissingRoleError caused by it when a managed identity lacks the right it needs. */
export function serviceBusError(err: unknown, connection: ServiceBusConnection): unknown {
	if (typeof connection === "string") return err;
	const message = String((err as Error)?.message ?? "");
	const role = /'Send' claim/.test(message)
		? AZURE_ROLES.send
		: /'Listen' claim/.test(message)
			? AZURE_ROLES.receive
			: undefined;
	return role ? new MissingRoleError(role, connection.fullyQualifiedNamespace, { cause: err }) : err;
}

/**
 * The client readiness checks use: `own` (the service's client) with a connection string, or with
 * a managed identity one without retries, whose errors keep Service Bus's text (a refused token, a
 * missing role) and come within the probe's deadline (the SDK's retries end in a bare "retry
 * cancelled", docs/facts.md). The caller closes it when it is not `own`.
 */
export function createProbeClient(connection: ServiceBusConnection, own: ServiceBusClient): ServiceBusClient {
	if (typeof connection === "string") return own;
	return createServiceBusClient(connection, { retryOptions: { maxRetries: 0, timeoutInMs: 5000 } });
}
