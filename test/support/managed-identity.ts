// TEST INFRASTRUCTURE: a managed-identity endpoint of the tests' own, speaking the protocol Container
// Apps and App Service give a process through IDENTITY_ENDPOINT and IDENTITY_HEADER (api-version
// 2019-08-01: GET ?resource=…&client_id=… with the X-IDENTITY-HEADER secret; JSON with
// access_token and expires_on). It issues real RS256-signed tokens shaped like Microsoft Entra ID's
// (iss https://sts.windows.net/<tenant>/, aud the resource, oid of the identity), and can be told
// to issue the wrong ones a test needs: another audience, or a token already expired.
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt, generateKeyPair, type KeyObject, SignJWT } from "jose";

export interface IdentityRequest {
	resource: string;
	clientId: string | undefined;
}

export class TestManagedIdentityEndpoint {
	readonly header = randomUUID();
	readonly tenantId = randomUUID();
	/** The user-assigned identity's client id (AZURE_CLIENT_ID) and its object id (the token's oid). */
	readonly clientId = randomUUID();
	readonly principalId = randomUUID();
	readonly requests: IdentityRequest[] = [];
	/** Tokens handed out, so a test can look for them where they must not be (logs). */
	readonly issued: string[] = [];
	/** What to put in `aud` instead of the requested resource (a misconfigured token). */
	audienceOverride: string | undefined;
	/** Only for this resource (e.g. Service Bus's), if set; else for every one. */
	audienceOverrideFor: string | undefined;
	/** Issue tokens whose `exp` has passed, while telling the client they are fresh (a skewed clock). */
	issueExpired = false;
	/** How long a token is good for (Entra ID's are good for an hour or more). */
	lifetimeSeconds = 3600;
	private server!: Server;
	private privateKey!: KeyObject | CryptoKey;
	publicKey!: KeyObject | CryptoKey;
	url = "";

	static async start(): Promise<TestManagedIdentityEndpoint> {
		const endpoint = new TestManagedIdentityEndpoint();
		const pair = await generateKeyPair("RS256");
		endpoint.privateKey = pair.privateKey;
		endpoint.publicKey = pair.publicKey;
		endpoint.server = createServer((req, res) => {
			endpoint.answer(req.url ?? "/", req.headers["x-identity-header"]).then(
				({ status, body }) => {
					res.writeHead(status, { "content-type": "application/json" });
					res.end(JSON.stringify(body));
				},
				(err) => {
					res.writeHead(500);
					res.end(String(err));
				},
			);
		});
		await new Promise<void>((resolve) => endpoint.server.listen(0, "127.0.0.1", resolve));
		endpoint.url = `http://127.0.0.1:${(endpoint.server.address() as AddressInfo).port}/msi/token`;
		return endpoint;
	}

	/** The environment the platform gives the service's process. */
	get environment(): Record<string, string> {
		return { IDENTITY_ENDPOINT: this.url, IDENTITY_HEADER: this.header, AZURE_CLIENT_ID: this.clientId };
	}

	private async answer(
		path: string,
		header: string | string[] | undefined,
	): Promise<{ status: number; body: unknown }> {
		const url = new URL(path, "http://127.0.0.1");
		if (header !== this.header) return { status: 401, body: { error: "invalid X-IDENTITY-HEADER" } };
		if (url.searchParams.get("api-version") !== "2019-08-01")
			return { status: 400, body: { error: "unsupported api-version" } };
		const resource = url.searchParams.get("resource");
		if (!resource) return { status: 400, body: { error: "resource is required" } };
		const clientId = url.searchParams.get("client_id") ?? undefined;
		this.requests.push({ resource, clientId });
		if (clientId !== undefined && clientId !== this.clientId)
			return { status: 400, body: { error: "invalid_request", error_description: "Identity not found" } };
		const now = Math.floor(Date.now() / 1000);
		const issuedAt = this.issueExpired ? now - 7200 : now;
		const token = await new SignJWT({ oid: this.principalId, tid: this.tenantId, appid: this.clientId })
			.setProtectedHeader({ alg: "RS256", typ: "JWT" })
			.setIssuer(`https://sts.windows.net/${this.tenantId}/`)
			.setAudience(
				this.audienceOverrideFor === undefined ||
					this.audienceOverrideFor.replace(/\/$/, "") === resource.replace(/\/$/, "")
					? (this.audienceOverride ?? resource)
					: resource,
			)
			.setSubject(this.principalId)
			.setIssuedAt(issuedAt)
			.setNotBefore(issuedAt)
			.setExpirationTime(issuedAt + this.lifetimeSeconds)
			.sign(this.privateKey);
		this.issued.push(token);
		return {
			status: 200,
			body: {
				access_token: token,
				// The client is told the token is good for its lifetime from now, whatever `exp` says.
				expires_on: String(now + this.lifetimeSeconds),
				resource,
				token_type: "Bearer",
				client_id: this.clientId,
			},
		};
	}

	/** The audiences of the tokens issued so far. */
	audiences(): string[] {
		return this.issued.map((t) => String(decodeJwt(t).aud));
	}

	close(): Promise<void> {
		this.server.closeAllConnections();
		return new Promise((resolve) => this.server.close(() => resolve()));
	}
}
