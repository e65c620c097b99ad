// The admin routes the training dashboard uses (the coach-wasm package is the *user's* client; these
// operator calls are plain fetches with the admin bearer token). Shapes follow the AI-training
// contract (docs/api-training.md).

import { api } from './api';
import type { components } from './api-types';

// The wire types are generated from the server's OpenAPI document (api-types.ts, `cargo xtask
// api-types`; `cargo xtask test` fails when it drifts from the Rust types).
type Schemas = components['schemas'];
export type TrainingStatus = Schemas['TrainingStatus'];
export type TrainingSession = Schemas['TrainingSession'];
export type ModelMetrics = Schemas['ModelMetrics'];
export type Environment = Schemas['DeploymentEnvironment'];
export type AiModel = Schemas['AiModel'];

export interface DatasetSize {
	total: number;
	pending: number;
}

export const isTerminal = (s: TrainingStatus) => s === 'completed' || s === 'failed';

/** Semantic-version order of `vX.Y.Z`. */
export function compareVersions(a: string, b: string): number {
	const pa = a.replace(/^v/, '').split('.').map(Number);
	const pb = b.replace(/^v/, '').split('.').map(Number);
	for (let i = 0; i < 3; i++) {
		const d = (pa[i] ?? 0) - (pb[i] ?? 0);
		if (d !== 0) return d;
	}
	return 0;
}

export function adminApi(token: string) {
	const call = <T>(method: string, path: string, body?: unknown) => api<T>(method, path, { token, body });
	return {
		sessions: () => call<Schemas['TrainingSessionsList']>('GET', '/v1/ai-training/sessions?limit=50'),
		startSession: (batchId: string, forceRetrain: boolean) =>
			call<TrainingSession>('POST', '/v1/ai-training/sessions', { batchId, forceRetrain } satisfies Schemas['TrainingSessionRequest']),
		updateSession: (id: string, status: Schemas['TrainingSessionAction']) =>
			call<TrainingSession>('PATCH', `/v1/ai-training/sessions/${encodeURIComponent(id)}`, { status } satisfies Schemas['TrainingSessionUpdate']),
		models: () => call<Schemas['AiModelsList']>('GET', '/v1/ai-training/models'),
		deploy: (id: string, env: Environment) =>
			call<Schemas['ModelDeploymentResponse']>('POST', `/v1/ai-training/models/${encodeURIComponent(id)}/deploy`, {
				deploymentEnvironment: env,
				rollbackStrategy: 'manual'
			} satisfies Schemas['ModelDeploymentRequest']),
		rollback: (id: string, rollbackReason: string) =>
			call<Schemas['ModelRollbackResponse']>('POST', `/v1/ai-training/models/${encodeURIComponent(id)}/rollback`, {
				rollbackReason
			} satisfies Schemas['ModelRollbackRequest']),
		dataset: async (): Promise<DatasetSize> => {
			const r = await call<Schemas['TrainingRecordList']>('GET', '/v1/ai-training/data?limit=1');
			return { total: r.total, pending: r.pending };
		},
		runJob: (job: 'retention-cleanup' | 'weekly-training') => call<Schemas['JobRun']>('POST', `/v1/admin/jobs/${job}`)
	};
}
