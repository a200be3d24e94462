import { Metadata, credentials, makeGenericClientConstructor, status } from '@grpc/grpc-js';
import type { ChannelCredentials, ClientOptions } from '@grpc/grpc-js';
import { ArborError, InvalidArgumentError, PermissionDeniedError, ServiceUnavailableError, validateContainerSpec, validateHandle } from '@arbor/core';
import type {
  ArborEvent,
  BulkResult,
  Capacity,
  Client,
  Container,
  ContainerInfo,
  ContainerMetrics,
  ContainerSpec,
  EventFilter,
  ImagePullProgress,
  ImageRef,
  Properties,
  PulledImageInfo,
} from '@arbor/core';
import { GardenService } from '@arbor/proto';
import type { GardenClient } from '@arbor/proto';
import { withDirectBytesDecoding } from './bytes-response-decoding';
import type { ContainerInfoEntry, ContainerMetricsEntry, Event as EventMessage, PullImageProgress } from '@arbor/proto';
import { DEFAULT_ADDRESS } from './default-address';
import { errorFromDetail, fromGrpcError } from './from-grpc-error';
import { GrpcContainer } from './grpc-container';
import type { UnaryMethod, Wire } from './grpc-container';
import {
  capacityFromProto,
  containerInfoFromProto,
  containerMetricsFromProto,
  containerSpecToProto,
  eventFromProto,
  imageRefToProto,
  pullProgressFromProto,
} from '@arbor/proto';

// DEFAULT_ADDRESS has a file of its own so that the CLI can show it without loading grpc-js
export { DEFAULT_ADDRESS };

/** TlsOptions are PEM contents (not paths): ca verifies the server; cert and key identify the client. */
export interface TlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/**
 * ConnectTarget is an address, like 'unix:///run/arbor/arbord.sock', '127.0.0.1:7777' or
 * 'tcp://127.0.0.1:7777', or an address with TLS options.
 */
export type ConnectTarget = string | { address: string; tls?: TlsOptions };

/** MAX_MESSAGE_BYTES lets large bulk answers through; streams use 64 KiB messages. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * TLS_REFUSALS are the TLS alerts with which arbord turns a client away for its certificate,
 * as grpc-js reports them in an UNAVAILABLE status's details, like 'ssl3_read_bytes:tlsv13
 * alert certificate required'.
 */
const TLS_REFUSALS: ReadonlyArray<[RegExp, string]> = [
  [/alert certificate required/, 'it requires a client certificate and none was given'],
  [/alert (unknown ca|bad certificate|certificate unknown|decrypt error)/, 'it does not trust the client certificate given'],
  [/alert certificate (expired|revoked)/, 'the client certificate given has expired or is revoked'],
  [/alert unsupported certificate/, 'the client certificate given is not for client authentication'],
];

/**
 * callError is fromGrpcError, except that a TLS refusal of this client's certificate, which
 * grpc-js reports as UNAVAILABLE, says what to give instead of only "cannot reach arbord ...
 * Is it running?": a PermissionDeniedError when arbord said why in a TLS alert (no
 * certificate), a hint when it just closed the connection after the handshake (Node's TLS
 * server does so, without an alert, for a certificate it does not trust).
 */
function callError(err: unknown, target: string, clientCert: boolean): Error {
  const details = (err as { code?: unknown; details?: unknown }).details;
  if ((err as { code?: unknown }).code === status.UNAVAILABLE && typeof details === 'string') {
    const refusal = TLS_REFUSALS.find(([pattern]) => pattern.test(details));
    if (refusal) {
      return new PermissionDeniedError(
        `arbord at ${target} refused the connection: ${refusal[1]}. Give a client certificate signed by arbord's tls.ca ` +
          '(arbor --tls-cert and --tls-key; GrpcClient.connect tls.cert and tls.key)',
      );
    }
    // grpc-js says 'read ECONNRESET', or 'Failed to connect' when the close came after the TLS handshake but before HTTP/2 began
    if (clientCert && /No connection established\. Last error: (read ECONNRESET|Failed to connect)/.test(details)) {
      return new ServiceUnavailableError(
        `arbord at ${target} closed the connection while it was being set up (${details}). ` +
          "If arbord is running, it does not trust the client certificate given: is it signed by arbord's tls.ca?",
      );
    }
  }
  return fromGrpcError(err, target);
}

function dialAddress(address: string): string {
  return address.startsWith('tcp://') ? address.slice('tcp://'.length) : address;
}

function infosFromProto(infos: Record<string, ContainerInfoEntry>): Record<string, BulkResult<ContainerInfo>> {
  const out: Record<string, BulkResult<ContainerInfo>> = {};
  for (const [handle, { result }] of Object.entries(infos)) {
    if (result?.$case === 'info') out[handle] = { value: containerInfoFromProto(result.value) };
    if (result?.$case === 'error') out[handle] = { error: errorFromDetail(result.value) };
  }
  return out;
}

function metricsFromProto(metrics: Record<string, ContainerMetricsEntry>): Record<string, BulkResult<ContainerMetrics>> {
  const out: Record<string, BulkResult<ContainerMetrics>> = {};
  for (const [handle, { result }] of Object.entries(metrics)) {
    if (result?.$case === 'metrics') out[handle] = { value: containerMetricsFromProto(result.value) };
    if (result?.$case === 'error') out[handle] = { error: errorFromDetail(result.value) };
  }
  return out;
}

/** DirectBytesGardenClient is the generated GardenClient with withDirectBytesDecoding's output decoders. */
const DirectBytesGardenClient = makeGenericClientConstructor(withDirectBytesDecoding(GardenService), 'arbor.v1.Garden') as unknown as new (
  address: string,
  credentials: ChannelCredentials,
  options?: Partial<ClientOptions>,
) => GardenClient;

/** RECEIVE_WINDOW_BYTES is the HTTP/2 flow-control window the client grants arbord's streams and connection. */
const RECEIVE_WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * GrpcClient is the Client over gRPC: code written against Client runs the same against
 * arbord as in-process. Input is validated before it is sent, with core's validators, so
 * bad input fails with the same InvalidArgumentError either way; server errors come back
 * as the same ArborError classes the server threw.
 */
export class GrpcClient implements Client {
  private readonly wire: Wire;

  private constructor(
    private readonly grpc: GardenClient,
    /** address is what was dialled, like 'unix:///run/arbor/arbord.sock'. */
    readonly address: string,
    /** clientCert tells whether this client presents a TLS certificate, for messages. */
    private readonly clientCert: boolean,
  ) {
    this.wire = {
      grpc,
      target: address,
      unary: <Req, Res>(method: UnaryMethod<Req, Res>, request: Req) =>
        new Promise<Res>((resolve, reject) => {
          method.call(grpc, request, new Metadata(), {}, (err, res) => (err ? reject(callError(err, address, clientCert)) : resolve(res)));
        }),
    };
  }

  /**
   * connect sets up a client for arbord at target. It does not wait for the server: a call
   * fails with ServiceUnavailableError when arbord cannot be reached.
   */
  static async connect(target: ConnectTarget = DEFAULT_ADDRESS): Promise<GrpcClient> {
    const address = typeof target === 'string' ? target : target.address;
    const tls = typeof target === 'string' ? undefined : target.tls;
    if (tls && !tls.cert !== !tls.key) throw new InvalidArgumentError(tls.cert ? 'tls.key' : 'tls.cert', 'tls.cert and tls.key go together');
    const creds: ChannelCredentials = tls ? credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null) : credentials.createInsecure();
    const grpc = new DirectBytesGardenClient(dialAddress(address), creds, {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      // HTTP/2's 64 KiB receive window is one output message: with it the server waits on every
      // window update; 4 MiB lets Run output and StreamOut flow while the client writes it out
      'grpc-node.flow_control_window': RECEIVE_WINDOW_BYTES,
    });
    return new GrpcClient(grpc, address, tls?.cert !== undefined);
  }

  /** close ends the connection; calls in flight are cancelled. */
  close(): void {
    this.grpc.close();
  }

  async ping(): Promise<void> {
    await this.wire.unary(this.grpc.ping, {});
  }

  /**
   * serverVersion asks arbord for its version (in Ping's answer), like '0.1.0'; 'unknown'
   * from a server too old to say.
   */
  async serverVersion(): Promise<string> {
    const res = await this.wire.unary(this.grpc.ping, {});
    return res.version || 'unknown';
  }

  async capacity(): Promise<Capacity> {
    return capacityFromProto(await this.wire.unary(this.grpc.capacity, {}));
  }

  async create(spec: ContainerSpec): Promise<Container> {
    validateContainerSpec(spec);
    const res = await this.wire.unary(this.grpc.create, { spec: containerSpecToProto(spec) });
    return new GrpcContainer(this.wire, res.handle);
  }

  async destroy(handle: string): Promise<void> {
    validateHandle(handle);
    await this.wire.unary(this.grpc.destroy, { handle });
  }

  async containers(filter: Properties = {}): Promise<Container[]> {
    const res = await this.wire.unary(this.grpc.list, { properties: { ...filter } });
    return res.handles.map((handle) => new GrpcContainer(this.wire, handle));
  }

  async bulkInfo(handles: string[]): Promise<Record<string, BulkResult<ContainerInfo>>> {
    const res = await this.wire.unary(this.grpc.bulkInfo, { handles: [...handles] });
    return infosFromProto(res.infos);
  }

  async bulkMetrics(handles: string[]): Promise<Record<string, BulkResult<ContainerMetrics>>> {
    const res = await this.wire.unary(this.grpc.bulkMetrics, { handles: [...handles] });
    return metricsFromProto(res.metrics);
  }

  async lookup(handle: string): Promise<Container> {
    validateHandle(handle);
    await this.wire.unary(this.grpc.lookup, { handle });
    return new GrpcContainer(this.wire, handle);
  }

  /**
   * pullImage streams PullImage: onProgress sees every message, the last one 'done'. When
   * onProgress throws, the call is cancelled and pullImage rejects with what it threw.
   */
  async pullImage(image: ImageRef, onProgress?: (progress: ImagePullProgress) => void): Promise<PulledImageInfo> {
    if (typeof image.uri !== 'string') throw new InvalidArgumentError('image.uri', 'must be a string');
    const target = this.address;
    return new Promise<PulledImageInfo>((resolve, reject) => {
      const call = this.grpc.pullImage({ image: imageRefToProto(image) });
      let pulled: PulledImageInfo | undefined;
      let failed = false;
      const fail = (err: unknown): void => {
        if (failed) return;
        failed = true;
        call.cancel();
        reject(err);
      };
      call.on('data', (message: PullImageProgress) => {
        if (failed) return;
        try {
          const progress = pullProgressFromProto(message);
          if (progress.phase === 'done') pulled = progress.image;
          onProgress?.(progress);
        } catch (err) {
          fail(err);
        }
      });
      call.on('end', () => {
        if (failed) return;
        if (pulled !== undefined) resolve(pulled);
        else fail(new ArborError('internal', `pullImage: ${target} ended the stream without a 'done' message`));
      });
      call.on('error', (err: Error) => {
        if (failed) return;
        failed = true;
        reject(callError(err, target, this.clientCert));
      });
    });
  }

  /**
   * events streams Events: it resolves once arbord has sent the response headers, which it
   * does once subscribed, so every event after that is seen. Reading is flow-controlled: a
   * loop that reads slowly makes arbord queue, and arbord drops a subscriber that falls
   * too far behind (the iteration throws ResourceExhaustedError). Events of a kind this
   * client does not know (from a newer server) are skipped. Aborting signal or leaving the
   * loop cancels the call.
   */
  async events(filter: EventFilter = {}, signal?: AbortSignal): Promise<AsyncIterableIterator<ArborEvent>> {
    const handles = [...(filter.handles ?? [])];
    handles.forEach((h) => validateHandle(h));
    const target = this.address;
    const clientCert = this.clientCert;
    const call = this.grpc.events({ handles });
    let failure: Error | undefined;
    // the listener stays: an error between the headers and the first read must not go unhandled
    call.on('error', (err: Error) => (failure ??= err));
    const cancel = (): void => call.cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    if (signal?.aborted) cancel();
    await new Promise<void>((resolve, reject) => {
      const settle = (err?: Error): void => {
        call.off('metadata', onMetadata);
        call.off('error', settle);
        if (err && !signal?.aborted) {
          signal?.removeEventListener('abort', cancel);
          reject(callError(err, target, clientCert));
        } else resolve();
      };
      const onMetadata = (): void => settle();
      call.once('metadata', onMetadata);
      call.once('error', settle);
    });
    async function* read(): AsyncGenerator<ArborEvent> {
      try {
        for await (const message of call as AsyncIterable<EventMessage>) {
          let event: ArborEvent;
          try {
            event = eventFromProto(message);
          } catch {
            continue;
          }
          yield event;
        }
      } catch (err) {
        if (signal?.aborted) return;
        throw callError(failure ?? err, target, clientCert);
      } finally {
        signal?.removeEventListener('abort', cancel);
        call.cancel();
      }
    }
    return read();
  }
}
