import { parseAllDocuments, stringify } from 'yaml';

/** One rendered Kubernetes object (kubectl kustomize output), as plain data. */
// biome-ignore lint/suspicious/noExplicitAny: rendered YAML is walked by field name
export type KubeObject = { apiVersion: string; kind: string; metadata: { name: string }; [key: string]: any };

export interface LocalRun {
  /** The locally built image (the global setup's `image`). */
  readonly image: string;
  /** etcd client URLs on this machine's loopback. */
  readonly etcdEndpoints: string;
  /** A free loopback port for the node. */
  readonly port: number;
  readonly kek: string;
  readonly adminToken: string;
  /** Appended to the Deployment's and the Secret's names, so that runs never meet each other's pods. */
  readonly suffix: string;
}

/**
 * The node Deployment of the rendered base, adapted only where a local `podman kube play` needs it, each
 * change for a stated reason (docs/deploy.md, "Kubernetes"):
 *
 * - `image`: the locally built one (no registry here).
 * - `replicas: 1` and `hostNetwork: true`: podman has no Service or cluster DNS, so the pod reaches the
 *   etcd started beside it on loopback, and the test reaches the pod there too; one replica, since
 *   replicas on the host network would share one port.
 * - ConfigMap: the loopback etcd endpoints instead of `etcd-N.etcd` (a StatefulSet podman cannot play),
 *   the node's port, and `LEASEHOLD_HOST=127.0.0.1` (on the host network the image's `0.0.0.0` would
 *   listen on every interface of the machine).
 * - Names: the Deployment and the Secret get a suffix of this run.
 * - Secret: real values instead of the placeholders; podman 4.3 cannot play a `Secret` object, so it goes
 *   in as a podman secret of the same name (`podman secret create`), which `secretKeyRef` reads (see
 *   podmanSecret for the one format 4.3 accepts).
 * - `ports` dropped and the probes' named port `http` replaced by the number: on the host network podman
 *   4.3 refuses port mappings ("PortMappings can only be used with Bridge or slirp4netns networking"),
 *   and without `ports` a named probe port has nothing to resolve to.
 * - `status.podIP`: podman 4.3 has no value for this field reference on the host network; the advertise
 *   URL is the loopback one.
 * - `$(POD_NAME)`: podman 4.3 does not expand dependent variables (the node id was the literal
 *   `$(POD_NAME)`); the node id is the pod's name, as Kubernetes would make it.
 *
 * Everything else — probes, security context (uid 10001, read-only root, no capabilities, no privilege
 * escalation), resources, emptyDir volumes, env from the ConfigMap and the Secret — is played as rendered.
 */
export function adaptForKubePlay(
  rendered: string,
  run: LocalRun,
): { manifest: string; secret: string; deployment: KubeObject } {
  const objects = parseAllDocuments(rendered).map((d) => d.toJS() as KubeObject);
  const find = (kind: string, name: string) => {
    const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (!found) throw new Error(`the rendered manifests have no ${kind}/${name}`);
    return found;
  };
  const config = find('ConfigMap', 'leasehold-config');
  config.data = {
    ...config.data,
    LEASEHOLD_ETCD_ENDPOINTS: run.etcdEndpoints,
    LEASEHOLD_PORT: String(run.port),
    LEASEHOLD_HOST: '127.0.0.1',
  };
  const secret = find('Secret', 'leasehold-secrets');
  secret.stringData = { kek: run.kek, 'admin-token': run.adminToken };
  secret.metadata.name = `leasehold-secrets-${run.suffix}`;
  const deployment = find('Deployment', 'leasehold');
  deployment.metadata.name = `leasehold-${run.suffix}`;
  deployment.spec.replicas = 1;
  const pod = deployment.spec.template.spec;
  pod.hostNetwork = true;
  const container = pod.containers[0];
  container.image = run.image;
  delete container.ports;
  for (const probe of [container.readinessProbe, container.livenessProbe]) probe.httpGet.port = run.port;
  container.env = container.env
    .filter((e: { name: string }) => e.name !== 'POD_IP')
    .map((e: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string } } }) => {
      if (e.name === 'LEASEHOLD_ADVERTISE_URL') return { ...e, value: `http://127.0.0.1:${run.port}` };
      if (e.name === 'LEASEHOLD_NODE_ID') return { ...e, value: podName(deployment.metadata.name) };
      const ref = e.valueFrom?.secretKeyRef;
      return ref ? { ...e, valueFrom: { secretKeyRef: { ...ref, name: secret.metadata.name } } } : e;
    });
  return {
    manifest: [config, deployment].map((o) => stringify(o)).join('---\n'),
    secret: podmanSecret(secret.stringData),
    deployment,
  };
}

/** The name podman gives the (first) pod of a played Deployment. */
export const podName = (deployment: string) => `${deployment}-pod-0`;

/**
 * A podman 4.3 secret that `secretKeyRef` can read: one flat JSON object of key → base64 value. Measured
 * here: a Secret object as YAML or JSON (with `data` or `stringData`), or base64 of it, is refused ("not
 * valid JSON: illegal base64 data at input byte 0", the 2-byte `"v1"` read as a value), and a `kind:
 * Secret` document played by `podman kube play` is stored as YAML that the same lookup then refuses.
 */
export function podmanSecret(values: Readonly<Record<string, string>>): string {
  return JSON.stringify(
    Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  );
}
