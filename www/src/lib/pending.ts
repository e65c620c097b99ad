// Sets logged while offline, kept in localStorage until the server can take them. The package's
// outbox covers training data and voice interactions; a workout entry itself is created by
// `POST /v1/workouts`, which needs the network, so the app keeps the set here and creates it on
// reconnect (see the workout page for what happens to each).

import type { Tone } from 'coach-wasm';

export interface PendingSet {
	/** Local id (for the list). */
	id: string;
	/** The `CreateWorkoutRequest` body. */
	req: {
		exerciseType: string;
		setNumber: number;
		weight: number;
		reps: number;
		perceivedExertion: number;
		strainPercentage?: number | null;
		sleepHours?: number | null;
		skipReason?: string | null;
	};
	contextTags: string[];
	/** The line shown offline (a cached clip's text), if there was one. */
	line: { text: string; tone: Tone; spoken: boolean } | null;
	/** Whether a training record for it went into the outbox (then no interaction is recorded, so
	 *  the server's workout export does not make a second row of it). */
	submittedForTraining: boolean;
	/** Epoch ms. */
	loggedAt: number;
}

const key = (hashedUserId: string) => `coach.pending.${hashedUserId.slice(0, 32)}`;

export function loadPending(hashedUserId: string): PendingSet[] {
	try {
		const raw = localStorage.getItem(key(hashedUserId));
		return raw ? (JSON.parse(raw) as PendingSet[]) : [];
	} catch {
		return [];
	}
}

export function savePending(hashedUserId: string, sets: PendingSet[]): void {
	if (sets.length === 0) localStorage.removeItem(key(hashedUserId));
	else localStorage.setItem(key(hashedUserId), JSON.stringify(sets));
}

export function clearPending(hashedUserId: string): void {
	localStorage.removeItem(key(hashedUserId));
}
