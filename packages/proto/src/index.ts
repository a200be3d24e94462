import * as path from 'node:path';

export * from './gen/arbor/v1/arbor';

/** The repository's proto directory: the include root for arbor/v1/arbor.proto. */
export const PROTO_ROOT = path.resolve(__dirname, '../../../proto');

/** Absolute path to arbor.proto, e.g. for @grpc/proto-loader and @grpc/reflection. */
export const PROTO_PATH = path.join(PROTO_ROOT, 'arbor/v1/arbor.proto');

export {
  bandwidthFromProto,
  bandwidthToProto,
  capacityFromProto,
  capacityToProto,
  containerInfoFromProto,
  containerInfoToProto,
  containerMetricsFromProto,
  containerMetricsToProto,
  containerSpecFromProto,
  containerSpecToProto,
  cpuFromProto,
  cpuToProto,
  diskFromProto,
  diskToProto,
  eventFromProto,
  eventToProto,
  imageRefFromProto,
  imageRefToProto,
  limitsFromProto,
  limitsToProto,
  memoryFromProto,
  memoryToProto,
  netOutRuleFromProto,
  netOutRuleToProto,
  pidFromProto,
  pidToProto,
  pulledImageFromProto,
  pulledImageToProto,
  pullProgressFromProto,
  pullProgressToProto,
  processSpecFromProto,
  processSpecToProto,
  required,
  ttyFromProto,
  ttyToProto,
} from './codec';
