// The admin routes the training dashboard uses (the coach-wasm package is the *user's* client; these
// operator calls are plain fetches with the admin bearer token). Shapes follow the AI-training
// contract (docs/api-training.md).

import { api } from './api';

export type TrainingStatus = 'scheduled' | 'data_collection' | 'training' | 'validation' | 'completed' | 'failed';

export interface TrainingSession {
	id: string;
	batchId: string;
	scheduledAt: string;
	startedAt: string | null;
	completedAt: string | null;
	status: TrainingStatus;
	dataSize: number;
	recordCount: number;
	retryCount: number;
	errorMessage: string | null;
	huggingFaceJobId: string | null;
	modelOutputPath: string | null;
}

export interface ModelMetrics {
	perplexity: number;
	bleuScore: number;
	validationLoss: number;
	trainingLoss: number;
	responsiveness: number;
}

export type Environment = 'staging' | 'production';

export interface AiModel {
	id: string;
	version: string;
	huggingFaceModelId: string;
	baseModel: string;
	trainingDataBatch: string;
	trainingStartedAt: string;
	trainingCompletedAt: string | null;
	deployedAt: string | null;
	status: 'training' | 'validating' | 'deployed' | 'archived';
	performanceMetrics: ModelMetrics | null;
	rollbackData: { previousModelId: string; previousVersion: string; rollbackReason: string | null } | null;
	deployedEnvironments: Environment[];
}

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
		sessions: () => call<{ sessions: TrainingSession[]; total: number; hasMore: boolean }>('GET', '/v1/ai-training/sessions?limit=50'),
		startSession: (batchId: string, forceRetrain: boolean) =>
			call<TrainingSession>('POST', '/v1/ai-training/sessions', { batchId, forceRetrain }),
		updateSession: (id: string, status: 'cancelled' | 'retrying') =>
			call<TrainingSession>('PATCH', `/v1/ai-training/sessions/${encodeURIComponent(id)}`, { status }),
		models: () => call<{ models: AiModel[]; total: number }>('GET', '/v1/ai-training/models'),
		deploy: (id: string, env: Environment) =>
			call<{ deploymentId: string; status: string; deployedAt: string; rollbackAvailable: boolean }>(
				'POST',
				`/v1/ai-training/models/${encodeURIComponent(id)}/deploy`,
				{ deploymentEnvironment: env, rollbackStrategy: 'manual' }
			),
		rollback: (id: string, rollbackReason: string) =>
			call<{ rollbackId: string; rolledBackTo: string; rolledBackAt: string }>(
				'POST',
				`/v1/ai-training/models/${encodeURIComponent(id)}/rollback`,
				{ rollbackReason }
			),
		dataset: async (): Promise<DatasetSize> => {
			const r = await call<{ total: number; pending: number }>('GET', '/v1/ai-training/data?limit=1');
			return { total: r.total, pending: r.pending };
		},
		runJob: (job: 'retention-cleanup' | 'weekly-training') =>
			call<{ job: string; ranAt: string; result: unknown }>('POST', `/v1/admin/jobs/${job}`)
	};
}
