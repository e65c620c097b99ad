// Plain `fetch` calls for what the coach-wasm package does not cover: the dev-mode sign-in and the
// admin (training dashboard) routes. Same origin as the app; errors carry the server's
// ErrorResponse (`error`, `message`, `details`) like the package's CoachError.

/** Where the Coach API is: the app's own origin (the server serves both), or `VITE_COACH_API_URL`
 *  at build time when the app is hosted elsewhere (then list the app's origin in the server's
 *  `COACH_CORS_ORIGINS`). */
export function apiBase(): string {
	const configured = (import.meta.env.VITE_COACH_API_URL as string | undefined) ?? '';
	return (configured || location.origin).replace(/\/+$/, '');
}

/** An error answer of the API (or a network failure, status 0). */
export class ApiError extends Error {
	override name = 'ApiError';
	constructor(
		public status: number,
		public error: string,
		message: string,
		public details: unknown = null
	) {
		super(message);
	}
}

/** One JSON request; resolves with the parsed body (null for 204), rejects with ApiError. */
export async function api<T>(
	method: string,
	path: string,
	opts: { token?: string | null; body?: unknown; signal?: AbortSignal } = {}
): Promise<T> {
	const headers: Record<string, string> = { accept: 'application/json' };
	if (opts.token) headers.authorization = `Bearer ${opts.token}`;
	if (opts.body !== undefined) headers['content-type'] = 'application/json';
	let res: Response;
	try {
		res = await fetch(`${apiBase()}${path}`, {
			method,
			headers,
			body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
			cache: 'no-store',
			signal: opts.signal
		});
	} catch (e) {
		throw new ApiError(0, 'network_error', 'The server could not be reached', { cause: String(e) });
	}
	const type = res.headers.get('content-type') ?? '';
	const data = type.includes('application/json') ? await res.json().catch(() => null) : null;
	if (!res.ok) {
		const d = (data ?? {}) as { error?: string; message?: string; details?: unknown };
		throw new ApiError(res.status, d.error ?? `http_${res.status}`, d.message ?? `HTTP ${res.status}`, d.details ?? null);
	}
	return data as T;
}

/** Whether the server runs in dev mode: an empty `POST /v1/dev/session` is a 400 there (the body
 *  is checked) and the 404 of an unknown route outside it. Creates nothing. */
export async function probeDevMode(): Promise<'dev' | 'production' | 'unreachable'> {
	try {
		await api('POST', '/v1/dev/session', { body: {} });
		return 'dev'; // not expected: an empty body is never accepted
	} catch (e) {
		if (e instanceof ApiError && e.status === 404) return 'production';
		if (e instanceof ApiError && e.status === 400) return 'dev';
		return 'unreachable';
	}
}

export interface TokenResponse {
	token: string;
	expiresAt: string;
	tokenType: string;
}

/** `POST /v1/dev/session` (dev mode only): creates or updates the user and mints a token. */
export function devSession(req: {
	userId: string;
	name?: string;
	isPremium: boolean;
	dataCollectionConsent: boolean;
	role: 'user' | 'admin';
}): Promise<TokenResponse> {
	return api<TokenResponse>('POST', '/v1/dev/session', { body: req });
}

/** The claims of a JWT (no verification: the server verifies; the app only reads sub/role/exp). */
export function tokenClaims(token: string): { sub?: string; role?: string; exp?: number } | null {
	const part = token.split('.')[1];
	if (!part) return null;
	try {
		const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
		const json = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
		return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
	} catch {
		return null;
	}
}
