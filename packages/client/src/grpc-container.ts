import { Readable, Transform, pipeline } from 'node:stream';
import type { Writable } from 'node:stream';
import type { CallOptions, ClientUnaryCall, Metadata, ServiceError } from '@grpc/grpc-js';
import {
  InvalidArgumentError,
  validateBandwidthLimits,
  validateCpuLimits,
  validateDiskLimits,
  validateMemoryLimits,
  validateNetOutRule,
  validatePidLimits,
  validatePortMapping,
  validateProcessId,
  validateProcessSpec,
  validateUser,
} from '@arbor/core';
import type {
  BandwidthLimits,
  Container,
  ContainerInfo,
  ContainerMetrics,
  CpuLimits,
  DiskLimits,
  Limits,
  MemoryLimits,
  NetOutRule,
  PidLimits,
  PortMapping,
  Process,
  ProcessIO,
  ProcessSpec,
  Properties,
  StreamInSpec,
  StreamOutSpec,
} from '@arbor/core';
import type { GardenClient, StreamInRequest, StreamOutResponse } from '@arbor/proto';
import { fromGrpcError } from './from-grpc-error';
import { openProcessStream } from './process-stream';
import {
  bandwidthToProto,
  containerInfoFromProto,
  containerMetricsFromProto,
  cpuToProto,
  diskToProto,
  limitsFromProto,
  memoryToProto,
  netOutRuleToProto,
  pidToProto,
  processSpecToProto,
} from '@arbor/proto';

/** MAX_TAR_CHUNK bounds one StreamIn message. */
export const MAX_TAR_CHUNK = 64 * 1024;

/** UnaryMethod is the fullest overload of a GardenClient unary method. */
export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (err: ServiceError | null, res: Res) => void,
) => ClientUnaryCall;

/** Wire is what a GrpcContainer needs from its client: the stub and the unary helper. */
export interface Wire {
  grpc: GardenClient;
  /** target is the address dialled, like 'unix:///run/arbor/arbord.sock', for messages. */
  target: string;
  /** unary calls a method of grpc and maps a failure through fromGrpcError. */
  unary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req): Promise<Res>;
}

/** GrpcContainer is a Container whose every method is a call to arbord. */
export class GrpcContainer implements Container {
  constructor(
    private readonly wire: Wire,
    readonly handle: string,
  ) {}

  async stop(kill: boolean): Promise<void> {
    await this.wire.unary(this.wire.grpc.stop, { handle: this.handle, kill });
  }

  async info(): Promise<ContainerInfo> {
    const res = await this.wire.unary(this.wire.grpc.info, { handle: this.handle });
    return containerInfoFromProto(res.info);
  }

  async streamIn(spec: StreamInSpec): Promise<void> {
    validateUser(spec.user ?? '');
    const { grpc, target } = this.wire;
    return new Promise<void>((resolve, reject) => {
      let tarError: Error | undefined;
      let settled = false;
      const call = grpc.streamIn((err) => {
        settled = true;
        if (err) {
          toMessages.destroy();
          reject(tarError ?? fromGrpcError(err, target));
        } else resolve();
      });
      const toMessages = new Transform({
        writableObjectMode: false,
        readableObjectMode: true,
        transform(chunk: Buffer, _encoding, callback) {
          for (let offset = 0; offset < chunk.length; offset += MAX_TAR_CHUNK) {
            const message: StreamInRequest = { part: { $case: 'tar', value: chunk.subarray(offset, offset + MAX_TAR_CHUNK) } };
            this.push(message);
          }
          callback();
        },
      });
      call.write({ part: { $case: 'header', value: { handle: this.handle, path: spec.path, user: spec.user ?? '' } } });
      pipeline(spec.tar, toMessages, call as unknown as Writable, (err) => {
        // a failing tar source cancels the call, and the caller hears the source's error
        if (err && !settled) {
          tarError = err;
          call.cancel();
        }
      });
    });
  }

  async streamOut(spec: StreamOutSpec): Promise<Readable> {
    validateUser(spec.user ?? '');
    const { grpc, target } = this.wire;
    return new Promise<Readable>((resolve, reject) => {
      const call = grpc.streamOut({ handle: this.handle, path: spec.path, user: spec.user ?? '' });
      let settled = false;
      let ended = false;
      const tar = new Readable({
        read: () => call.resume(),
        destroy: (err, callback) => {
          if (!ended) call.cancel();
          callback(err);
        },
      });
      const ready = (): void => {
        if (!settled) {
          settled = true;
          resolve(tar);
        }
      };
      call.on('data', (message: StreamOutResponse) => {
        ready();
        if (!tar.push(message.tar)) call.pause();
      });
      call.on('end', () => {
        ended = true;
        ready();
        tar.push(null);
      });
      call.on('error', (err: Error) => {
        ended = true;
        const failure = fromGrpcError(err, target);
        if (!settled) {
          settled = true;
          reject(failure);
        } else tar.destroy(failure);
      });
    });
  }

  async limitBandwidth(limits: BandwidthLimits): Promise<void> {
    validateBandwidthLimits(limits);
    await this.wire.unary(this.wire.grpc.limitBandwidth, { handle: this.handle, limits: bandwidthToProto(limits) });
  }

  async limitCpu(limits: CpuLimits): Promise<void> {
    validateCpuLimits(limits);
    await this.wire.unary(this.wire.grpc.limitCpu, { handle: this.handle, limits: cpuToProto(limits) });
  }

  async limitDisk(limits: DiskLimits): Promise<void> {
    validateDiskLimits(limits);
    await this.wire.unary(this.wire.grpc.limitDisk, { handle: this.handle, limits: diskToProto(limits) });
  }

  async limitMemory(limits: MemoryLimits): Promise<void> {
    validateMemoryLimits(limits);
    await this.wire.unary(this.wire.grpc.limitMemory, { handle: this.handle, limits: memoryToProto(limits) });
  }

  async limitPids(limits: PidLimits): Promise<void> {
    validatePidLimits(limits);
    await this.wire.unary(this.wire.grpc.limitPids, { handle: this.handle, limits: pidToProto(limits) });
  }

  async currentLimits(): Promise<Limits> {
    const res = await this.wire.unary(this.wire.grpc.currentLimits, { handle: this.handle });
    return limitsFromProto(res.limits);
  }

  async currentBandwidthLimits(): Promise<BandwidthLimits> {
    return (await this.currentLimits()).bandwidth ?? { rateInBytesPerSecond: 0, burstRateInBytesPerSecond: 0 };
  }

  async currentCpuLimits(): Promise<CpuLimits> {
    return (await this.currentLimits()).cpu ?? { weight: 0 };
  }

  async currentDiskLimits(): Promise<DiskLimits> {
    return (await this.currentLimits()).disk ?? { byteSoft: 0, byteHard: 0, inodeSoft: 0, inodeHard: 0, scope: 'total' };
  }

  async currentMemoryLimits(): Promise<MemoryLimits> {
    return (await this.currentLimits()).memory ?? { limitInBytes: 0 };
  }

  async currentPidLimits(): Promise<PidLimits> {
    return (await this.currentLimits()).pid ?? { max: 0 };
  }

  async netIn(hostPort: number, containerPort: number): Promise<PortMapping> {
    validatePortMapping(hostPort, containerPort);
    const res = await this.wire.unary(this.wire.grpc.netIn, { handle: this.handle, hostPort, containerPort });
    return { hostPort: res.mapping?.hostPort ?? 0, containerPort: res.mapping?.containerPort ?? 0 };
  }

  async netOut(rule: NetOutRule): Promise<void> {
    validateNetOutRule(rule);
    await this.wire.unary(this.wire.grpc.netOut, { handle: this.handle, rule: netOutRuleToProto(rule) });
  }

  async bulkNetOut(rules: NetOutRule[]): Promise<void> {
    rules.forEach((r, i) => validateNetOutRule(r, rules.length === 1 ? 'rule' : `rules[${i}]`));
    await this.wire.unary(this.wire.grpc.bulkNetOut, { handle: this.handle, rules: rules.map(netOutRuleToProto) });
  }

  async run(spec: ProcessSpec, io: ProcessIO): Promise<Process> {
    validateProcessSpec(spec);
    const call = this.wire.grpc.run();
    call.write({ input: { $case: 'start', value: { handle: this.handle, spec: processSpecToProto(spec) } } });
    return openProcessStream(call, io, { target: this.wire.target, closeStdinWithoutInput: true });
  }

  async attach(processId: string, io: ProcessIO): Promise<Process> {
    validateProcessId(processId);
    const call = this.wire.grpc.attach();
    call.write({ input: { $case: 'attach', value: { handle: this.handle, processId } } });
    return openProcessStream(call, io, { target: this.wire.target, closeStdinWithoutInput: false });
  }

  async metrics(): Promise<ContainerMetrics> {
    const res = await this.wire.unary(this.wire.grpc.metrics, { handle: this.handle });
    return containerMetricsFromProto(res.metrics);
  }

  async setGraceTime(graceTimeMs: number): Promise<void> {
    if (!Number.isSafeInteger(graceTimeMs) || graceTimeMs < 0) {
      throw new InvalidArgumentError('graceTimeMs', `${graceTimeMs} must be a whole number of milliseconds, 0 or more`);
    }
    await this.wire.unary(this.wire.grpc.setGraceTime, { handle: this.handle, graceTimeMs });
  }

  async properties(): Promise<Properties> {
    const res = await this.wire.unary(this.wire.grpc.getProperties, { handle: this.handle });
    return { ...res.properties };
  }

  async property(name: string): Promise<string> {
    const res = await this.wire.unary(this.wire.grpc.getProperty, { handle: this.handle, name });
    return res.value;
  }

  async setProperty(name: string, value: string): Promise<void> {
    if (name === '') throw new InvalidArgumentError('name', 'property names must not be empty');
    await this.wire.unary(this.wire.grpc.setProperty, { handle: this.handle, name, value });
  }

  async removeProperty(name: string): Promise<void> {
    await this.wire.unary(this.wire.grpc.removeProperty, { handle: this.handle, name });
  }
}
