import type { handleServerStreamingCall, handleUnaryCall } from '@grpc/grpc-js';
import { arborVersion } from '@arbor/core';
import type { Backend, CallContext, Logger } from '@arbor/core';
import type * as pb from '@arbor/proto';
import {
  bandwidthFromProto,
  capacityToProto,
  containerInfoToProto,
  containerMetricsToProto,
  containerSpecFromProto,
  cpuFromProto,
  diskFromProto,
  imageRefFromProto,
  limitsToProto,
  memoryFromProto,
  netOutRuleFromProto,
  pidFromProto,
  pullProgressToProto,
  required,
} from '@arbor/proto';
import { processStreamHandler } from './process-stream';
import { streamInHandler, streamOutHandler } from './file-streams';
import { encodeErrorDetail, toGrpcStatus } from './to-grpc-status';
import { decoded } from './undecodable-message';
import { callLogger } from './call-logger';
import { eventsHandler } from './events-stream';

/**
 * createGardenService implements arbor.v1.Garden over a Backend: each handler decodes the
 * request, calls the backend, encodes the answer; every error goes out through toGrpcStatus.
 * Each call's logger (callLogger) goes to the backend as its CallContext, so the ports log
 * with the call's requestId.
 */
export function createGardenService(backend: Backend, logger: Logger): pb.GardenServer {
  const unary =
    <Req, Res>(rpc: string, fn: (req: Req, ctx: CallContext) => Promise<Res>): handleUnaryCall<Req, Res> =>
    (call, callback) => {
      const log = callLogger(logger, rpc, call.request);
      const started = Date.now();
      let answer: Promise<Res>;
      try {
        answer = fn(decoded(call.request), { logger: log });
      } catch (err) {
        // decoded throws for an undecodable request before fn runs
        answer = Promise.reject(err);
      }
      answer.then(
        (res) => {
          log.debug('rpc-finished', { durationMs: Date.now() - started });
          callback(null, res);
        },
        (err: unknown) => callback(toGrpcStatus(err, log)),
      );
    };
  const lookup = (handle: string, ctx: CallContext) => backend.lookup(handle, ctx);

  return {
    ping: unary('Ping', async () => {
      await backend.ping();
      return { version: arborVersion() };
    }),
    capacity: unary('Capacity', async () => capacityToProto(await backend.capacity())),
    create: unary('Create', async (req: pb.CreateRequest, ctx) => {
      const container = await backend.create(containerSpecFromProto(req.spec), ctx);
      ctx.logger.info('container-created', { handle: container.handle });
      return { handle: container.handle };
    }),
    destroy: unary('Destroy', async (req: pb.DestroyRequest, ctx) => {
      await backend.destroy(req.handle, ctx);
      ctx.logger.info('container-destroyed');
      return {};
    }),
    stop: unary('Stop', async (req: pb.StopRequest, ctx) => {
      await (await lookup(req.handle, ctx)).stop(req.kill);
      return {};
    }),
    list: unary('List', async (req: pb.ListRequest, ctx) => {
      const containers = await backend.containers({ ...req.properties }, ctx);
      return { handles: containers.map((c) => c.handle) };
    }),
    lookup: unary('Lookup', async (req: pb.LookupRequest, ctx) => {
      await lookup(req.handle, ctx);
      return {};
    }),
    info: unary('Info', async (req: pb.InfoRequest, ctx) => ({
      info: containerInfoToProto(await (await lookup(req.handle, ctx)).info()),
    })),
    bulkInfo: unary('BulkInfo', async (req: pb.BulkInfoRequest, ctx) => {
      const results = await backend.bulkInfo([...req.handles], ctx);
      const infos: Record<string, pb.ContainerInfoEntry> = {};
      for (const [handle, r] of Object.entries(results)) {
        infos[handle] = {
          result: r.error ? { $case: 'error', value: encodeErrorDetail(r.error) } : { $case: 'info', value: containerInfoToProto(r.value) },
        };
      }
      return { infos };
    }),
    metrics: unary('Metrics', async (req: pb.MetricsRequest, ctx) => ({
      metrics: containerMetricsToProto(await (await lookup(req.handle, ctx)).metrics()),
    })),
    bulkMetrics: unary('BulkMetrics', async (req: pb.BulkMetricsRequest, ctx) => {
      const results = await backend.bulkMetrics([...req.handles], ctx);
      const metrics: Record<string, pb.ContainerMetricsEntry> = {};
      for (const [handle, r] of Object.entries(results)) {
        metrics[handle] = {
          result: r.error ? { $case: 'error', value: encodeErrorDetail(r.error) } : { $case: 'metrics', value: containerMetricsToProto(r.value) },
        };
      }
      return { metrics };
    }),

    run: processStreamHandler(backend, logger, 'run'),
    attach: processStreamHandler(backend, logger, 'attach'),
    streamIn: streamInHandler(backend, logger),
    streamOut: streamOutHandler(backend, logger),

    limitBandwidth: unary('LimitBandwidth', async (req: pb.LimitBandwidthRequest, ctx) => {
      await (await lookup(req.handle, ctx)).limitBandwidth(bandwidthFromProto(required(req.limits, 'limits')));
      return {};
    }),
    limitCpu: unary('LimitCpu', async (req: pb.LimitCpuRequest, ctx) => {
      await (await lookup(req.handle, ctx)).limitCpu(cpuFromProto(required(req.limits, 'limits')));
      return {};
    }),
    limitDisk: unary('LimitDisk', async (req: pb.LimitDiskRequest, ctx) => {
      await (await lookup(req.handle, ctx)).limitDisk(diskFromProto(required(req.limits, 'limits'), 'limits'));
      return {};
    }),
    limitMemory: unary('LimitMemory', async (req: pb.LimitMemoryRequest, ctx) => {
      await (await lookup(req.handle, ctx)).limitMemory(memoryFromProto(required(req.limits, 'limits')));
      return {};
    }),
    limitPids: unary('LimitPids', async (req: pb.LimitPidsRequest, ctx) => {
      await (await lookup(req.handle, ctx)).limitPids(pidFromProto(required(req.limits, 'limits')));
      return {};
    }),
    currentLimits: unary('CurrentLimits', async (req: pb.CurrentLimitsRequest, ctx) => ({
      limits: limitsToProto(await (await lookup(req.handle, ctx)).currentLimits()),
    })),

    netIn: unary('NetIn', async (req: pb.NetInRequest, ctx) => {
      const mapping = await (await lookup(req.handle, ctx)).netIn(req.hostPort, req.containerPort);
      return { mapping: { hostPort: mapping.hostPort, containerPort: mapping.containerPort } };
    }),
    netOut: unary('NetOut', async (req: pb.NetOutRequest, ctx) => {
      await (await lookup(req.handle, ctx)).netOut(netOutRuleFromProto(req.rule));
      return {};
    }),
    bulkNetOut: unary('BulkNetOut', async (req: pb.BulkNetOutRequest, ctx) => {
      const rules = req.rules.map((r, i) => netOutRuleFromProto(r, `rules[${i}]`));
      await (await lookup(req.handle, ctx)).bulkNetOut(rules);
      return {};
    }),

    getProperties: unary('GetProperties', async (req: pb.GetPropertiesRequest, ctx) => ({
      properties: await (await lookup(req.handle, ctx)).properties(),
    })),
    getProperty: unary('GetProperty', async (req: pb.GetPropertyRequest, ctx) => ({
      value: await (await lookup(req.handle, ctx)).property(req.name),
    })),
    setProperty: unary('SetProperty', async (req: pb.SetPropertyRequest, ctx) => {
      await (await lookup(req.handle, ctx)).setProperty(req.name, req.value);
      return {};
    }),
    removeProperty: unary('RemoveProperty', async (req: pb.RemovePropertyRequest, ctx) => {
      await (await lookup(req.handle, ctx)).removeProperty(req.name);
      return {};
    }),
    setGraceTime: unary('SetGraceTime', async (req: pb.SetGraceTimeRequest, ctx) => {
      await (await lookup(req.handle, ctx)).setGraceTime(req.graceTimeMs);
      return {};
    }),

    pullImage: pullImageHandler(backend, logger),
    events: eventsHandler(backend, logger),
  };
}

/**
 * pullImageHandler serves PullImage: each progress event of backend.pullImage becomes a
 * message, the last one 'done'. Progress comes throttled from the Gardener, so messages
 * are few; while the client reads slowly they queue in grpc-js. A cancelled call stops
 * the messages, not the pull: the image still lands in the store for the next create.
 */
function pullImageHandler(backend: Backend, logger: Logger): handleServerStreamingCall<pb.PullImageRequest, pb.PullImageProgress> {
  return (call) => {
    const log = callLogger(logger, 'PullImage', call.request);
    let cancelled = false;
    call.on('cancelled', () => {
      cancelled = true;
    });
    const started = Date.now();
    const serve = async (): Promise<void> => {
      const image = imageRefFromProto(decoded(call.request).image);
      await backend.pullImage(
        image,
        (progress) => {
          if (!cancelled) call.write(pullProgressToProto(progress));
        },
        { logger: log },
      );
      log.debug('rpc-finished', { durationMs: Date.now() - started });
      if (!cancelled) call.end();
    };
    serve().catch((err: unknown) => {
      if (!cancelled) call.emit('error', toGrpcStatus(err, log));
    });
  };
}
