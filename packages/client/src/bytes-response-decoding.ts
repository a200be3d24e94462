import type { ServiceDefinition } from '@grpc/grpc-js';
import type { ProcessOutput, StreamOutResponse } from '@arbor/proto';

/**
 * bytesFieldOf reads a message that is one length-delimited field and nothing else, like a
 * ProcessOutput whose stdout (field 2) is set: it returns the field's number and its bytes as
 * a view of message (no copy), or undefined for any other message (another field, more than
 * one field, a length that does not end where the message does), which the caller leaves to
 * the generated decoder.
 */
export function bytesFieldOf(message: Buffer): { fieldNumber: number; bytes: Buffer } | undefined {
  const tag = message[0];
  // wire type 2 (length-delimited) with a field number below 16: the tag is one byte
  if (tag === undefined || (tag & 7) !== 2 || tag > 0x7f) return undefined;
  let length = 0;
  let pos = 1;
  // a length takes at most 5 varint bytes; more than 4 is past what a message here can hold
  for (let shift = 0; shift < 28; shift += 7) {
    const byte = message[pos++];
    if (byte === undefined) return undefined;
    length += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) {
      return pos + length === message.length ? { fieldNumber: tag >>> 3, bytes: message.subarray(pos) } : undefined;
    }
  }
  return undefined;
}

type Deserialize = (bytes: Buffer) => unknown;

/**
 * withDirectBytesDecoding returns the Garden service definition with the response decoders of
 * Run and Attach (stdout and stderr messages) and StreamOut (tar messages) giving the bytes as
 * a view of the buffer received, where the generated decoder copies them (Buffer.from of the
 * reader's subarray). grpc-js gives each deserializer a buffer of its own (it concatenates a
 * message's frames into a new one), so nothing else writes to it. For the 64 KiB chunks of
 * Run output and StreamOut, the copy and its allocation were a third of the CLI's own work
 * per byte after the pipe writes (issue #15). Every other message goes through the
 * generated decoder as before.
 */
export function withDirectBytesDecoding<S extends ServiceDefinition>(definition: S): S {
  const replaced: Record<string, unknown> = { ...definition };
  const wrap = (name: string, direct: (message: Buffer, generated: Deserialize) => unknown): void => {
    const method = definition[name];
    if (!method) throw new Error(`withDirectBytesDecoding: the service has no method ${name}`);
    const generated = method.responseDeserialize as Deserialize;
    replaced[name] = { ...method, responseDeserialize: (message: Buffer) => direct(message, generated) };
  };
  const processOutput = (message: Buffer, generated: Deserialize): ProcessOutput => {
    const field = bytesFieldOf(message);
    if (field?.fieldNumber === 2) return { output: { $case: 'stdout', value: field.bytes } };
    if (field?.fieldNumber === 3) return { output: { $case: 'stderr', value: field.bytes } };
    return generated(message) as ProcessOutput;
  };
  wrap('run', processOutput);
  wrap('attach', processOutput);
  wrap('streamOut', (message, generated): StreamOutResponse => {
    const field = bytesFieldOf(message);
    return field?.fieldNumber === 1 ? { tar: field.bytes } : (generated(message) as StreamOutResponse);
  });
  return replaced as S;
}
