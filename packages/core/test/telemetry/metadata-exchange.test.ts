import { describe, expect, it } from 'vitest';
import {
  localPeerHeaders,
  metadataFromStruct,
  peerMetadataOf,
  sidecarNodeId,
} from '../../src/telemetry/metadata-exchange/peer-metadata.js';
import {
  decodeStruct,
  encodeStruct,
  StructWireError,
} from '../../src/telemetry/metadata-exchange/struct-wire.js';
import { peerFromIdentity, peerWithMetadata, UNKNOWN_PEER } from '../../src/telemetry/peer-labels.js';

/**
 * `x-envoy-peer-metadata` as Istio 1.14.5's sidecars sent it in Bookinfo: the reviews-v3
 * sidecar's request header and the ratings-v1 sidecar's response header, captured in
 * "Istio metrics deep dive" (zhaohuabing.com, 2023-02-14), with the decoded fields the post
 * lists. Real Envoy output, so the codec is checked byte for byte against protobuf's own
 * deterministic serializer.
 */
const REVIEWS_V3 =
  'ChsKDkFQUF9DT05UQUlORVJTEgkaB3Jldmlld3MKGgoKQ0xVU1RFUl9JRBIMGgpLdWJlcm5ldGVzCh4KDElOU1RBTkNFX0lQUxIOGgwxNzIuMTYuMC4xMzMKGQoNSVNUSU9fVkVSU0lPThIIGgYxLjE0LjUK0wEKBkxBQkVMUxLIASrFAQoQCgNhcHASCRoHcmV2aWV3cwofChFwb2QtdGVtcGxhdGUtaGFzaBIKGgg1OGI2NDc5YgokChlzZWN1cml0eS5pc3Rpby5pby90bHNNb2RlEgcaBWlzdGlvCiwKH3NlcnZpY2UuaXN0aW8uaW8vY2Fub25pY2FsLW5hbWUSCRoHcmV2aWV3cworCiNzZXJ2aWNlLmlzdGlvLmlvL2Nhbm9uaWNhbC1yZXZpc2lvbhIEGgJ2MwoPCgd2ZXJzaW9uEgQaAnYzChoKB01FU0hfSUQSDxoNY2x1c3Rlci5sb2NhbAojCgROQU1FEhsaGXJldmlld3MtdjMtNThiNjQ3OWItNjJydjUKFgoJTkFNRVNQQUNFEgkaB2RlZmF1bHQKTgoFT1dORVISRRpDa3ViZXJuZXRlczovL2FwaXMvYXBwcy92MS9uYW1lc3BhY2VzL2RlZmF1bHQvZGVwbG95bWVudHMvcmV2aWV3cy12MwoXChFQTEFURk9STV9NRVRBREFUQRICKgAKHQoNV09SS0xPQURfTkFNRRIMGgpyZXZpZXdzLXYz';
const RATINGS_V1 =
  'ChsKDkFQUF9DT05UQUlORVJTEgkaB3JhdGluZ3MKGgoKQ0xVU1RFUl9JRBIMGgpLdWJlcm5ldGVzCh0KDElOU1RBTkNFX0lQUxINGgsxNzIuMTYuMC42OQoZCg1JU1RJT19WRVJTSU9OEggaBjEuMTQuNQrVAQoGTEFCRUxTEsoBKscBChAKA2FwcBIJGgdyYXRpbmdzCiEKEXBvZC10ZW1wbGF0ZS1oYXNoEgwaCjg1Y2M0NmI2ZDQKJAoZc2VjdXJpdHkuaXN0aW8uaW8vdGxzTW9kZRIHGgVpc3RpbwosCh9zZXJ2aWNlLmlzdGlvLmlvL2Nhbm9uaWNhbC1uYW1lEgkaB3JhdGluZ3MKKwojc2VydmljZS5pc3Rpby5pby9jYW5vbmljYWwtcmV2aXNpb24SBBoCdjEKDwoHdmVyc2lvbhIEGgJ2MQoaCgdNRVNIX0lEEg8aDWNsdXN0ZXIubG9jYWwKJQoETkFNRRIdGhtyYXRpbmdzLXYxLTg1Y2M0NmI2ZDQtbjdxZGcKFgoJTkFNRVNQQUNFEgkaB2RlZmF1bHQKTgoFT1dORVISRRpDa3ViZXJuZXRlczovL2FwaXMvYXBwcy92MS9uYW1lc3BhY2VzL2RlZmF1bHQvZGVwbG95bWVudHMvcmF0aW5ncy12MQoXChFQTEFURk9STV9NRVRBREFUQRICKgAKHQoNV09SS0xPQURfTkFNRRIMGgpyYXRpbmdzLXYx';

describe('google.protobuf.Struct wire codec', () => {
  it('decodes an Envoy sidecar header into the fields Istio sent', () => {
    const s = decodeStruct(Buffer.from(REVIEWS_V3, 'base64'));
    expect(s).toEqual({
      APP_CONTAINERS: 'reviews',
      CLUSTER_ID: 'Kubernetes',
      INSTANCE_IPS: '172.16.0.133',
      ISTIO_VERSION: '1.14.5',
      LABELS: {
        app: 'reviews',
        'pod-template-hash': '58b6479b',
        'security.istio.io/tlsMode': 'istio',
        'service.istio.io/canonical-name': 'reviews',
        'service.istio.io/canonical-revision': 'v3',
        version: 'v3',
      },
      MESH_ID: 'cluster.local',
      NAME: 'reviews-v3-58b6479b-62rv5',
      NAMESPACE: 'default',
      OWNER: 'kubernetes://apis/apps/v1/namespaces/default/deployments/reviews-v3',
      PLATFORM_METADATA: {},
      WORKLOAD_NAME: 'reviews-v3',
    });
  });

  it('re-encodes both captured headers to the same bytes Envoy wrote (deterministic, sorted keys)', () => {
    for (const header of [REVIEWS_V3, RATINGS_V1]) {
      const bytes = Buffer.from(header, 'base64');
      expect(encodeStruct(decodeStruct(bytes)).toString('base64')).toBe(header);
    }
  });

  it('round-trips every Value kind, sorting keys by their bytes', () => {
    const s = { z: null, b: true, n: -1.5, s: 'é', l: ['x', 2, { k: false }], o: { y: 'v' } };
    const bytes = encodeStruct(s);
    expect(decodeStruct(bytes)).toEqual(s);
    // Map entries in key order: b, l, n, o, s, z.
    const keys: string[] = [];
    for (let i = 0; i < bytes.length;) {
      const entryLength = bytes[i + 1]!;
      keys.push(String.fromCharCode(bytes[i + 4]!));
      i += 2 + entryLength;
    }
    expect(keys).toEqual(['b', 'l', 'n', 'o', 's', 'z']);
  });

  it('rejects truncated or overlong input and nesting past the limit, never reading out of bounds', () => {
    const bytes = Buffer.from(REVIEWS_V3, 'base64');
    expect(() => decodeStruct(bytes.subarray(0, bytes.length - 3))).toThrow(StructWireError);
    // An entry claiming more bytes than its message has.
    expect(() => decodeStruct(Buffer.from([0x0a, 0x7f, 0x0a]))).toThrow(StructWireError);
    // A varint that never ends.
    expect(() => decodeStruct(Buffer.alloc(12, 0xff))).toThrow(StructWireError);
    let deep: Buffer = Buffer.alloc(0);
    for (let i = 0; i < 40; i++) deep = encodeStructLevel(deep);
    expect(() => decodeStruct(deep)).toThrow(/deeper/);
    // Unknown fields are skipped, as protobuf parsers do.
    expect(decodeStruct(Buffer.from([0x10, 0x05]))).toEqual({});
  });
});

/** A protobuf varint, by hand. */
function varint(n: number): Buffer {
  const out: number[] = [];
  for (; n > 0x7f; n >>>= 7) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return Buffer.from(out);
}

/** `{ a: <previous> }` by hand, so the test does not need the encoder's own depth check. */
function encodeStructLevel(inner: Buffer): Buffer {
  const value = Buffer.concat([Buffer.from([0x2a]), varint(inner.length), inner]);
  const entry = Buffer.concat([Buffer.from([0x0a, 1, 0x61, 0x12]), varint(value.length), value]);
  return Buffer.concat([Buffer.from([0x0a]), varint(entry.length), entry]);
}

describe('peer metadata', () => {
  it('reads a sidecar header the way istio_stats labels the peer', () => {
    expect(peerMetadataOf(RATINGS_V1)).toEqual({
      instance: 'ratings-v1-85cc46b6d4-n7qdg',
      namespace: 'default',
      workload: 'ratings-v1',
      cluster: 'Kubernetes',
      canonicalService: 'ratings',
      canonicalRevision: 'v1',
      app: 'ratings',
      version: 'v1',
    });
    // The same value again: the same object, from the cache.
    expect(peerMetadataOf(RATINGS_V1)).toBe(peerMetadataOf([RATINGS_V1, 'ignored']));
  });

  it('prefers app.kubernetes.io/name and /version over app and version (metadata_object.cc)', () => {
    const m = metadataFromStruct({
      LABELS: {
        app: 'a',
        'app.kubernetes.io/name': 'qualified',
        version: 'v',
        'app.kubernetes.io/version': 'q',
      },
    });
    expect([m.app, m.version, m.workload, m.canonicalService]).toEqual(['qualified', 'q', '', '']);
  });

  it('finds no peer in a value that is not a Struct, or is too large to decode', () => {
    expect(peerMetadataOf(Buffer.from([0x0a, 0x7f]).toString('base64'))).toBeNull();
    // Over 4 KiB: not decoded, even when it is a valid Struct.
    const big = encodeStruct({ WORKLOAD_NAME: 'w', LABELS: { pad: 'x'.repeat(4000) } }).toString('base64');
    expect(metadataFromStruct(decodeStruct(Buffer.from(big, 'base64'))).workload).toBe('w');
    expect(peerMetadataOf(big)).toBeNull();
    expect(peerMetadataOf(undefined)).toBeNull();
    expect(peerMetadataOf('')).toBeNull();
  });

  it("sends this workload as an injected pod's sidecar would, and reads back as itself", () => {
    const workload = {
      name: 'reviews-v2',
      namespace: 'bookinfo',
      serviceAccount: 'bookinfo-reviews',
      labels: { app: 'reviews', version: 'v2' },
    };
    const id = sidecarNodeId(workload, { INSTANCE_IP: '10.0.0.7' });
    expect(id).toBe('sidecar~10.0.0.7~reviews-v2.bookinfo~bookinfo.svc.cluster.local');
    // Without INSTANCE_IP: this host's own IPv4 address, never an empty field.
    expect(sidecarNodeId(workload, {})).toMatch(/^sidecar~\d+\.\d+\.\d+\.\d+~reviews-v2\.bookinfo~/);
    const headers = localPeerHeaders(workload, 'east', id);
    expect(headers.id).toBe(id);
    expect(decodeStruct(Buffer.from(headers.value, 'base64'))).toEqual({
      NAME: 'reviews-v2',
      NAMESPACE: 'bookinfo',
      WORKLOAD_NAME: 'reviews-v2',
      CLUSTER_ID: 'east',
      LABELS: {
        app: 'reviews',
        version: 'v2',
        // What the injector adds to the pod: canonical name from `app`, revision from `version`.
        'service.istio.io/canonical-name': 'reviews',
        'service.istio.io/canonical-revision': 'v2',
      },
    });
  });
});

describe('peer labels with metadata', () => {
  it("keeps the certificate's principal and namespace, takes the rest from the metadata", () => {
    const meta = peerMetadataOf(REVIEWS_V3)!;
    const fromCert = peerFromIdentity({
      principal: 'cluster.local/ns/bookinfo/sa/bookinfo-reviews',
      namespace: 'bookinfo',
      serviceAccount: 'bookinfo-reviews',
      trustDomain: 'cluster.local',
    });
    const labels = peerWithMetadata(fromCert, meta);
    expect(labels).toEqual({
      workload: 'reviews-v3',
      namespace: 'bookinfo',
      principal: 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews',
      app: 'reviews',
      version: 'v3',
      canonicalService: 'reviews',
      canonicalRevision: 'v3',
      cluster: 'Kubernetes',
    });
    expect(peerWithMetadata(fromCert, meta)).toBe(labels);
  });

  it('takes the namespace from the metadata without a certificate; missing fields are unknown, and latest', () => {
    const labels = peerWithMetadata(UNKNOWN_PEER, metadataFromStruct({ NAMESPACE: 'foo', LABELS: {} }));
    expect(labels).toEqual({
      ...UNKNOWN_PEER,
      namespace: 'foo',
      canonicalRevision: 'latest',
    });
  });
});
