import { GardenService, ProcessOutput, StreamOutResponse } from '@arbor/proto';
import { bytesFieldOf, withDirectBytesDecoding } from './bytes-response-decoding';

/** bytesOf is n bytes that are not all alike, so a shifted or dropped byte shows. */
function bytesOf(n: number): Buffer {
  const bytes = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) bytes[i] = (i * 131 + 7) & 0xff;
  return bytes;
}

const encoded = (message: ProcessOutput): Buffer => Buffer.from(ProcessOutput.encode(message).finish());

describe('bytesFieldOf', () => {
  // the varint length takes 1, 2, 3 and 4 bytes across these sizes
  it.each([0, 1, 127, 128, 16_383, 16_384, 65_536, 2_097_152])('reads %i bytes of stdout as a view of the message', (n) => {
    const value = bytesOf(n);
    const message = encoded({ output: { $case: 'stdout', value } });
    const field = bytesFieldOf(message);
    expect(field?.fieldNumber).toBe(2);
    expect(field?.bytes.equals(value)).toBe(true);
    // a view, not a copy: the bytes end where the message ends, in the same memory
    expect(field?.bytes.buffer).toBe(message.buffer);
    expect(field?.bytes.byteOffset).toBe(message.byteOffset + message.length - n);
  });

  it.each<[string, Buffer]>([
    ['an empty message', Buffer.alloc(0)],
    ['a varint field (exit status 3)', Buffer.from([32, 3])],
    ['a length that runs past the end', Buffer.from([18, 5, 1, 2])],
    ['a length that ends before the end (another field follows)', Buffer.from([18, 1, 9, 32, 3])],
    ['a length cut off inside its varint', Buffer.from([18, 0x80])],
    ['a two-byte tag (field 16)', Buffer.from([0x82, 0x01, 1, 9])],
  ])('answers undefined for %s', (_name, message) => {
    expect(bytesFieldOf(message)).toBeUndefined();
  });
});

describe('withDirectBytesDecoding', () => {
  const definition = withDirectBytesDecoding(GardenService);

  const outputs: Array<[string, ProcessOutput]> = [
    ['started', { output: { $case: 'started', value: 'proc-1' } }],
    ['stdout', { output: { $case: 'stdout', value: bytesOf(70_000) } }],
    ['stderr', { output: { $case: 'stderr', value: bytesOf(3) } }],
    ['empty stdout', { output: { $case: 'stdout', value: Buffer.alloc(0) } }],
    ['exitStatus', { output: { $case: 'exitStatus', value: 137 } }],
  ];
  it.each(outputs)('decodes Run and Attach output (%s) as the generated decoder does', (_name, message) => {
    const bytes = encoded(message);
    expect(definition.run.responseDeserialize(bytes)).toEqual(ProcessOutput.decode(bytes));
    expect(definition.attach.responseDeserialize(bytes)).toEqual(ProcessOutput.decode(bytes));
    expect(definition.run.responseDeserialize(bytes)).toEqual(message);
  });

  it('leaves a message of more than one field to the generated decoder (the last stdout wins)', () => {
    const bytes = Buffer.concat([encoded({ output: { $case: 'stdout', value: bytesOf(4) } }), encoded({ output: { $case: 'stderr', value: bytesOf(2) } })]);
    const decoded = definition.run.responseDeserialize(bytes);
    expect(decoded).toEqual(ProcessOutput.decode(bytes));
    expect(decoded.output).toEqual({ $case: 'stderr', value: bytesOf(2) });
  });

  it.each([0, 5, 65_536])('decodes a StreamOut message of %i tar bytes as the generated decoder does', (n) => {
    const bytes = Buffer.from(StreamOutResponse.encode({ tar: bytesOf(n) }).finish());
    const decoded = definition.streamOut.responseDeserialize(bytes);
    expect(decoded.tar.equals(bytesOf(n))).toBe(true);
    expect(decoded).toEqual(StreamOutResponse.decode(bytes));
  });

  it('leaves the other methods and every request encoder as they were', () => {
    expect(definition.create).toBe(GardenService.create);
    expect(definition.run.requestSerialize).toBe(GardenService.run.requestSerialize);
    expect(definition.streamOut.path).toBe('/arbor.v1.Garden/StreamOut');
  });
});
