// The signed-in user of this tab: the bearer token (kept in localStorage so a reload stays signed
// in), the coach-wasm CoachClient built for it, the user record and the voice preferences. The
// last user record and preferences the server sent are kept with the token, so the app starts
// signed in with no network (plan, consent and voice settings known offline; issue 11); the server's
// answers replace them as soon as it is reachable.
// Tokens come from the dev-mode sign-in or, in production, from the app's own backend (which mints
// them with the admin API key); see the sign-in page.

import { api, apiBase, tokenClaims } from './api';
import { errorCode, loadWasm, type CoachClient, type User, type VoicePreferences } from './coach';
import { rebuildVoiceCache } from './storage';

const STORAGE_KEY = 'coach.session';

/** What survives a reload. */
interface Stored {
	token: string;
	userId: string;
	role: 'user' | 'admin';
	/** Epoch seconds, from the token. */
	exp: number | null;
	/** The user's own names (display name, email) for the package's local PII check. */
	names: string[];
	/** The last `GET /v1/users/me` (offline starts). */
	me?: User | null;
	/** The last voice preferences the server sent (offline starts). */
	prefs?: VoicePreferences | null;
}

/** The voice preferences as the app knows them: loaded, never set yet (defaults), or premium-only. */
export type PrefsState =
	| { kind: 'loading' }
	| { kind: 'loaded'; prefs: VoicePreferences }
	| { kind: 'defaults' }
	| { kind: 'premium_required' }
	| { kind: 'error'; message: string };

/** What the server applies before the first PUT (docs/api-voice.md). */
export const DEFAULT_PREFS = { personality: 'Alice', voiceEnabled: true, toneAdaptation: true, accessibilityMode: false } as const;

class Session {
	/** The stored session, null when signed out. */
	stored = $state<Stored | null>(null);
	/** The package's client for this user (null while signed out or loading). */
	client = $state.raw<CoachClient | null>(null);
	/** `GET /v1/users/me`. */
	me = $state<User | null>(null);
	/** Voice preferences. */
	prefs = $state<PrefsState>({ kind: 'loading' });
	/** Restoring from storage has finished (pages wait for it before redirecting). */
	restored = $state(false);
	/** Why the last session ended, shown on the sign-in page. */
	endedBecause = $state<string | null>(null);

	get signedIn(): boolean {
		return this.stored !== null;
	}

	get isAdmin(): boolean {
		return this.stored?.role === 'admin';
	}

	get token(): string | null {
		return this.stored?.token ?? null;
	}

	/** Reads the stored session (called once by the layout). */
	async restore(): Promise<void> {
		try {
			const raw = localStorage.getItem(STORAGE_KEY);
			const s = raw ? (JSON.parse(raw) as Stored) : null;
			if (s && s.exp !== null && s.exp * 1000 <= Date.now()) {
				localStorage.removeItem(STORAGE_KEY);
				this.endedBecause = 'Your session expired. Sign in again.';
			} else if (s) {
				this.stored = s;
				this.me = s.me ?? null;
				if (s.prefs) this.prefs = { kind: 'loaded', prefs: s.prefs };
				await this.#connect();
			}
		} catch {
			localStorage.removeItem(STORAGE_KEY);
		} finally {
			this.restored = true;
		}
	}

	/** Signs in with a bearer token (from the dev sign-in or the app's backend). */
	async signIn(token: string): Promise<User> {
		const claims = tokenClaims(token);
		if (!claims?.sub) throw new Error('This is not a Coach token (no subject claim).');
		// the user's names first, so the package's PII check knows them from the start
		const me = await api<User>('GET', '/v1/users/me', { token });
		this.#disconnect();
		this.stored = {
			token,
			userId: claims.sub,
			role: claims.role === 'admin' ? 'admin' : 'user',
			exp: typeof claims.exp === 'number' ? claims.exp : null,
			names: [me.name, me.email].filter((n): n is string => !!n),
			me
		};
		this.prefs = { kind: 'loading' };
		localStorage.setItem(STORAGE_KEY, JSON.stringify(this.stored));
		this.endedBecause = null;
		await this.#connect();
		this.me = me;
		return me;
	}

	/** Signs out (the local voice cache and outbox stay for the next sign-in of this user). */
	signOut(reason: string | null = null): void {
		this.#disconnect();
		this.stored = null;
		this.me = null;
		this.prefs = { kind: 'loading' };
		this.endedBecause = reason;
		localStorage.removeItem(STORAGE_KEY);
	}

	/** `GET /v1/users/me` again. */
	async refreshMe(): Promise<User | null> {
		if (!this.client) return null;
		try {
			this.me = await this.client.getMe();
			this.#keep({ me: this.me });
		} catch (e) {
			if (errorCode(e) === 'invalid_token' || errorCode(e) === 'unauthorized') {
				this.signOut('Your session is no longer valid. Sign in again.');
			}
		}
		return this.me;
	}

	/** `GET /v1/voice/preferences`, also applying accessibility mode to the package's player. */
	async loadPrefs(): Promise<PrefsState> {
		const client = this.client;
		if (!client) return this.prefs;
		try {
			const prefs = await client.getPreferences();
			this.setPrefs(prefs);
		} catch (e) {
			const code = errorCode(e);
			// offline: the kept preferences stay in force
			if (code === 'network_error' && this.prefs.kind === 'loaded') {
				client.player.accessibilityMode = this.prefs.prefs.accessibilityMode;
				return this.prefs;
			}
			if (code === 'not_found') this.prefs = { kind: 'defaults' };
			else if (code === 'premium_required') this.prefs = { kind: 'premium_required' };
			else this.prefs = { kind: 'error', message: e instanceof Error ? e.message : String(e) };
			client.player.accessibilityMode = false;
		}
		return this.prefs;
	}

	/** Records the user record the server returned (e.g. after a consent change). */
	setMe(me: User): void {
		this.me = me;
		this.#keep({ me });
	}

	/** Records preferences the server returned. */
	setPrefs(prefs: VoicePreferences): void {
		this.prefs = { kind: 'loaded', prefs };
		if (this.client) this.client.player.accessibilityMode = prefs.accessibilityMode;
		this.#keep({ prefs });
	}

	/** Saves the latest server answers with the session (for offline starts). */
	#keep(update: Pick<Stored, 'me'> | Pick<Stored, 'prefs'>): void {
		if (!this.stored) return;
		this.stored = { ...this.stored, ...update };
		localStorage.setItem(STORAGE_KEY, JSON.stringify(this.stored));
	}

	/** The effective settings (stored, or the server's defaults). */
	get voice() {
		return this.prefs.kind === 'loaded' ? this.prefs.prefs : DEFAULT_PREFS;
	}

	async #connect(): Promise<void> {
		const s = this.stored;
		if (!s) return;
		const wasm = await loadWasm();
		const client = new wasm.CoachClient({ baseUrl: apiBase(), token: s.token, names: s.names });
		this.client = client;
		if (this.prefs.kind === 'loaded') client.player.accessibilityMode = this.prefs.prefs.accessibilityMode;
		void this.refreshMe().then((me) => {
			// the browser may have evicted the local database: a premium user's clips come back
			if (me?.isPremium && this.client === client) {
				rebuildVoiceCache(client, s.token).then(
					(r) => r && console.info(`voice cache rebuilt from the server: ${r.restored} clip(s), ${r.withText} with text`),
					(e) => console.warn('voice cache rebuild', e)
				);
			}
		});
		void this.loadPrefs();
	}

	#disconnect(): void {
		const c = this.client;
		this.client = null;
		if (c) {
			try {
				c.close();
				c.free();
			} catch {
				// already freed
			}
		}
	}
}

/** The one session of this tab. */
export const session = new Session();
