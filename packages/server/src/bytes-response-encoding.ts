import type { ServiceDefinition } from '@grpc/grpc-js';
import type { ProcessOutput, StreamOutResponse } from '@arbor/proto';

/**
 * encodeBytesField encodes a message whose one field set is the bytes field fieldNumber, like
 * ProcessOutput's stdout (2): its tag, the length as a varint, then the bytes, byte for byte
 * what the generated encoder writes. It makes one buffer and one copy; the generated encoder
 * grows a zeroed buffer to fit, slices it and Buffer.from copies it again, which for the 64 KiB
 * chunks of Run's output and StreamOut's tar was most of arbord's work per byte (issue #15).
 */
export function encodeBytesField(fieldNumber: number, bytes: Uint8Array): Buffer {
  // wire type 2: length-delimited; field numbers here are below 16, so the tag is one byte
  const tag = (fieldNumber << 3) | 2;
  let varintLength = 1;
  for (let n = bytes.length; n >= 0x80; n >>>= 7) varintLength++;
  const out = Buffer.allocUnsafe(1 + varintLength + bytes.length);
  out[0] = tag;
  let pos = 1;
  let n = bytes.length;
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[pos++] = n;
  out.set(bytes, pos);
  return out;
}

type Serialize = (value: never) => Buffer;

const PROCESS_OUTPUT_FIELDS = { stdout: 2, stderr: 3 } as const;

/**
 * withDirectBytesEncoding returns the Garden service definition with the response encoders of
 * Run, Attach (stdout and stderr messages) and StreamOut (tar messages) replaced by
 * encodeBytesField; every other message goes through the generated encoder as before.
 */
export function withDirectBytesEncoding<S extends ServiceDefinition>(definition: S): S {
  const replaced: Record<string, unknown> = { ...definition };
  const wrap = (name: string, direct: (value: never, generated: Serialize) => Buffer): void => {
    const method = definition[name];
    if (!method) throw new Error(`withDirectBytesEncoding: the service has no method ${name}`);
    const generated = method.responseSerialize as Serialize;
    replaced[name] = { ...method, responseSerialize: (value: never) => direct(value, generated) };
  };
  const processOutput = (value: ProcessOutput, generated: Serialize): Buffer => {
    const output = value.output;
    if (output?.$case === 'stdout' || output?.$case === 'stderr') return encodeBytesField(PROCESS_OUTPUT_FIELDS[output.$case], output.value);
    return generated(value as never);
  };
  wrap('run', processOutput as (value: never, generated: Serialize) => Buffer);
  wrap('attach', processOutput as (value: never, generated: Serialize) => Buffer);
  // proto3 leaves an empty bytes field out: the generated encoder says so for an empty tar
  wrap('streamOut', ((value: StreamOutResponse, generated: Serialize) =>
    value.tar.length === 0 ? generated(value as never) : encodeBytesField(1, value.tar)) as (value: never, generated: Serialize) => Buffer);
  return replaced as S;
}
