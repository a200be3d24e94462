// @arbor/client: the Client contract over gRPC, and the `arbor` CLI (cli.ts).
export { GrpcClient, DEFAULT_ADDRESS } from './grpc-client';
export type { ConnectTarget, TlsOptions } from './grpc-client';
export { GrpcContainer } from './grpc-container';
export { ERROR_METADATA_KEY, errorFromDetail, fromGrpcError } from './from-grpc-error';
export { PullProgressTracker, PullProgressView, formatBytes, renderBar } from './pull-progress';
export type { ProgressOutput, PullTotals } from './pull-progress';
