import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { missingTools, sh } from './podman.js';

// The manifests are rendered by kubectl's built-in kustomize and every object is validated against the
// Kubernetes OpenAPI schemas shipped in `kubernetes-models` (no API server here: `--dry-run=client`
// needs one). ServiceMonitor is a Prometheus Operator CRD, not in those schemas: its fields are checked
// by hand below.
type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; [key: string]: unknown };

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

async function render(dir: string): Promise<Manifest[]> {
  const { stdout } = await sh('kubectl', ['kustomize', dir], { env: process.env });
  return parseAllDocuments(stdout).map((doc) => doc.toJS() as Manifest);
}

function validateAll(objects: readonly Manifest[]): string[] {
  const problems: string[] = [];
  for (const object of objects) {
    const Model = MODELS[`${object.apiVersion}/${object.kind}`];
    if (!Model) continue;
    try {
      new Model(object as never).validate();
    } catch (err) {
      problems.push(`${object.kind}/${object.metadata.name}: ${(err as Error).message}`);
    }
  }
  return problems;
}

// biome-ignore lint/suspicious/noExplicitAny: walking rendered YAML
const pick = (objects: readonly Manifest[], kind: string, name: string): any =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);

describe('kubernetes manifests', () => {
  it('has kubectl (with kustomize)', () => {
    expect(missingTools(['kubectl'])).toEqual([]);
  });

  it('base renders and every object validates against the Kubernetes schemas', async () => {
    const objects = await render('deploy/kubernetes/base');
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ConfigMap/leasehold-config',
      'Deployment/leasehold',
      'PodDisruptionBudget/etcd',
      'PodDisruptionBudget/leasehold',
      'Secret/leasehold-secrets',
      'Service/etcd',
      'Service/leasehold',
      'StatefulSet/etcd',
    ]);
    expect(validateAll(objects)).toEqual([]);

    const deployment = pick(objects, 'Deployment', 'leasehold');
    const pod = deployment.spec.template.spec;
    const node = pod.containers[0];
    expect(node.readinessProbe.httpGet.path).toBe('/readyz');
    expect(node.livenessProbe.httpGet.path).toBe('/healthz');
    expect(node.resources.requests).toBeDefined();
    expect(node.resources.limits.memory).toBeDefined();
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(node.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    const envNames = node.env.map((e: { name: string }) => e.name);
    // $(POD_IP) expands only when POD_IP comes earlier in the list.
    expect(envNames.indexOf('POD_IP')).toBeLessThan(envNames.indexOf('LEASEHOLD_ADVERTISE_URL'));
    const secretKeys = node.env
      .filter((e: { valueFrom?: { secretKeyRef?: unknown } }) => e.valueFrom?.secretKeyRef)
      .map((e: { name: string }) => e.name);
    expect(secretKeys.sort()).toEqual(['LEASEHOLD_ADMIN_TOKEN', 'LEASEHOLD_KEK']);

    const etcd = pick(objects, 'StatefulSet', 'etcd');
    expect(etcd.spec.replicas).toBe(3);
    expect(etcd.spec.serviceName).toBe('etcd');
    expect(pick(objects, 'Service', 'etcd').spec.clusterIP).toBe('None');
    const members = etcd.spec.template.spec.containers[0].env.find(
      (e: { name: string }) => e.name === 'ETCD_INITIAL_CLUSTER',
    ).value;
    const endpoints = pick(objects, 'ConfigMap', 'leasehold-config').data.LEASEHOLD_ETCD_ENDPOINTS;
    // The node's endpoints are the three members the StatefulSet starts.
    for (const i of [0, 1, 2]) {
      expect(members).toContain(`etcd-${i}=http://etcd-${i}.etcd:2380`);
      expect(endpoints).toContain(`http://etcd-${i}.etcd:2379`);
    }
    expect(pick(objects, 'PodDisruptionBudget', 'leasehold').spec.minAvailable).toBe(2);
  });

  it('the TLS overlay renders, validates, and switches probes, URLs and the ServiceMonitor to HTTPS', async () => {
    const objects = await render('deploy/kubernetes/overlays/tls');
    expect(validateAll(objects)).toEqual([]);
    const node = pick(objects, 'Deployment', 'leasehold').spec.template.spec.containers[0];
    expect(node.readinessProbe.httpGet).toMatchObject({ path: '/readyz', scheme: 'HTTPS' });
    expect(node.livenessProbe.httpGet).toMatchObject({ path: '/healthz', scheme: 'HTTPS' });
    const env = Object.fromEntries(node.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
    expect(env.LEASEHOLD_ADVERTISE_URL).toBe('https://$(POD_IP):7300');
    expect(env.LEASEHOLD_TLS_CERT).toBe('/etc/leasehold/tls/tls.crt');
    const names = node.env.map((e: { name: string }) => e.name);
    expect(names.indexOf('POD_IP')).toBeLessThan(names.indexOf('LEASEHOLD_ADVERTISE_URL'));
    // The data and tmp volumes of the base are kept beside the TLS one.
    const mounts = node.volumeMounts.map((m: { name: string }) => m.name).sort();
    expect(mounts).toEqual(['data', 'tls', 'tmp']);

    const monitor = pick(objects, 'ServiceMonitor', 'leasehold');
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'leasehold' });
    expect(monitor.spec.endpoints[0]).toMatchObject({ port: 'http', path: '/metrics', scheme: 'https' });
  });

  it('a broken object fails the schema check (the validation is not a no-op)', () => {
    const bad: Manifest = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'bad' },
      spec: { replicas: 'three', selector: {}, template: {} },
    };
    expect(validateAll([bad])).toHaveLength(1);
  });
});
