// Who is calling, and what they may do. Permissions come from the token's `roles` (app roles) and
// `scp` (delegated scopes) claims, the same names in both.

export const PERMISSIONS = ["Orders.Create", "Orders.Read", "Orders.ReadAll", "Orders.UpdateStatus"] as const;
export type Permission = (typeof PERMISSIONS)[number];

export interface Principal {
	/** The owner claim's value (`Auth:OwnerClaim`, default `sub`); undefined when auth is off. */
	id?: string;
	permissions: ReadonlySet<Permission>;
	/**
	 * Until when this service accepts the token (ms since the epoch): its exp plus the verifier's
	 * clock tolerance. A stream ends then, and a session cookie lasts as long.
	 */
	expiresAt?: number;
}

/** Auth:Mode None: every call may do everything, and orders have no owner. */
export const ANONYMOUS: Principal = { permissions: new Set(PERMISSIONS) };

/** Whether `p` may read the order owned by `ownerId` (ReadAll, or Read and it is theirs). */
export function mayRead(p: Principal, ownerId: string | undefined): boolean {
	if (p.permissions.has("Orders.ReadAll")) return true;
	return p.permissions.has("Orders.Read") && (p.id === undefined || p.id === ownerId);
}

/** The owner whose orders `p` is limited to, or undefined for all orders. */
export function ownerScope(p: Principal): string | undefined {
	return p.permissions.has("Orders.ReadAll") ? undefined : p.id;
}

/**
 * Whom a per-caller budget charges (replays, SignalR requests carried to other instances): the
 * principal, else, without auth, the client's address.
 */
export function budgetKey(p: Principal, clientAddress: string | undefined): string {
	return p.id ?? clientAddress ?? "anonymous";
}

/** The permissions named in a token's claims. */
export function permissionsOf(claims: Record<string, unknown>): Set<Permission> {
	const names = new Set<string>();
	if (Array.isArray(claims.roles)) for (const r of claims.roles) if (typeof r === "string") names.add(r);
	if (typeof claims.scp === "string") for (const s of claims.scp.split(" ")) if (s) names.add(s);
	return new Set(PERMISSIONS.filter((p) => names.has(p)));
}
