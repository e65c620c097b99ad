// Loading the coach-wasm package (the browser library built from wasm-client/) once per page.
// Everything the app does with voice, caching, anonymization and the offline outbox goes through
// this package; the app never re-implements its rules.

export type Wasm = typeof import('coach-wasm');
export type {
	CoachClient,
	CoachError,
	SpeakResult,
	CacheStats,
	VoicePreferences,
	VoiceProfile,
	VoiceCloneStatus,
	User,
	Tone,
	Personality,
	WorkoutEntry,
	CoachResponse,
	CreateWorkoutRequest,
	InteractionTemplate,
	OutboxDelivery,
	OutboxOutcome
} from 'coach-wasm';

let loading: Promise<Wasm> | null = null;

/** The initialised package (its .wasm instantiated); the same promise for every caller. */
export function loadWasm(): Promise<Wasm> {
	if (!loading) {
		loading = (async () => {
			const mod = await import('coach-wasm');
			await mod.default();
			return mod;
		})();
		// a failed load may be retried (e.g. after the server came back)
		loading.catch(() => (loading = null));
	}
	return loading;
}

/** A readable message for anything thrown (CoachError, Error, or other). */
export function errorText(e: unknown): string {
	if (e && typeof e === 'object' && 'message' in e && typeof (e as { message: unknown }).message === 'string') {
		return (e as { message: string }).message;
	}
	return String(e);
}

/** The machine-readable code of a CoachError or an API error, if any. */
export function errorCode(e: unknown): string | null {
	if (e && typeof e === 'object' && 'error' in e && typeof (e as { error: unknown }).error === 'string') {
		return (e as { error: string }).error;
	}
	return null;
}

/** The HTTP status of a CoachError or an API error (0 when none was involved). */
export function errorStatus(e: unknown): number {
	if (e && typeof e === 'object' && 'status' in e && typeof (e as { status: unknown }).status === 'number') {
		return (e as { status: number }).status;
	}
	return 0;
}

/** The per-field problems of a validation error (`details.fields`), as readable lines. */
export function fieldErrors(e: unknown): string[] {
	const details = e && typeof e === 'object' && 'details' in e ? (e as { details: unknown }).details : null;
	const fields = details && typeof details === 'object' && 'fields' in details ? (details as { fields: unknown }).fields : null;
	if (!Array.isArray(fields)) return [];
	return fields.map((f) => {
		if (f && typeof f === 'object') {
			const o = f as Record<string, unknown>;
			const name = typeof o.field === 'string' ? o.field : '';
			const msg = typeof o.message === 'string' ? o.message : typeof o.code === 'string' ? o.code : '';
			return name ? `${name}: ${msg}` : msg;
		}
		return String(f);
	});
}
