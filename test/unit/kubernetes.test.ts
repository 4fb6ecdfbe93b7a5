import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { QueueKeys } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ENV_VARIABLES, loadConfig, secretsOf } from '../../src/core/config.js';
import { QUEUE_NAMES } from '../../src/jobs/queues.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * deploy/kubernetes without a cluster: every overlay rendered by `kubectl kustomize`, every object
 * validated against the Kubernetes API schemas (kubernetes-models, generated from the API's
 * OpenAPI; KEDA's from its CRDs: @kubernetes-models/keda), unknown fields refused by the same
 * models' TypeScript types, and the invariants the application needs, derived from its code.
 */

const ROOT = resolve('deploy/kubernetes');
const OVERLAYS = readdirSync(join(ROOT, 'overlays'));
// KUBECTL: another binary than the one on PATH.
const KUBECTL = process.env.KUBECTL ?? 'kubectl';
const kubectl = spawnSync(KUBECTL, ['version', '--client'], { encoding: 'utf8' });
const hasKubectl = kubectl.status === 0;
const HOW = 'install kubectl >= 1.27 (it bundles Kustomize): https://kubernetes.io/docs/tasks/tools/';
if (!hasKubectl && process.env.CI) {
  // On CI a skipped check is a failed one.
  throw new Error(`kubectl is missing, and CI is set: ${HOW}`);
}
if (!hasKubectl) process.stderr.write(`kubernetes manifests: skipped, kubectl not found (${HOW})\n`);

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: any };

function render(overlay: string): K8sObject[] {
  const out = spawnSync(KUBECTL, ['kustomize', join(ROOT, 'overlays', overlay)], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (out.status !== 0) throw new Error(`kubectl kustomize ${overlay} failed: ${out.stderr}`);
  return parseAllDocuments(out.stdout).map((d) => d.toJS() as K8sObject);
}

/** Where kubernetes-models keeps a kind: core v1 under v1/, KEDA in its own package. */
function modelPath(o: K8sObject): string {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : [undefined, o.apiVersion];
  if (group === 'keda.sh') return `@kubernetes-models/keda/keda.sh/${version}/${o.kind}`;
  return group ? `kubernetes-models/${group}/${version}/${o.kind}` : `kubernetes-models/${version}/${o.kind}`;
}

async function schemaErrors(o: K8sObject): Promise<string | undefined> {
  const mod = (await import(modelPath(o))) as Record<string, new (d: unknown) => { validate(): void }>;
  const Model = mod[o.kind];
  if (!Model) return `no model for ${o.apiVersion} ${o.kind}`;
  try {
    new Model(o).validate();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * The OpenAPI schemas allow unknown fields (the API server drops them, or refuses them under
 * strict field validation); the models' TypeScript interfaces do not. Each object is written as a
 * literal of its kind's interface and type-checked: a misspelt or misplaced field is an error.
 */
function unknownFieldErrors(objects: K8sObject[]): string[] {
  const file = resolve(`.k8s-typecheck-${process.pid}.ts`);
  const lines = objects.map((o, i) => `import type { I${o.kind} as T${i} } from '${modelPath(o)}';\nexport const o${i}: T${i} = ${JSON.stringify(o)};`);
  const source = lines.join('\n');
  const options: ts.CompilerOptions = { strict: true, noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, skipLibCheck: true, types: [] };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => (resolve(name) === file ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, ...rest));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => resolve(name) === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const at = d.start !== undefined ? source.slice(0, d.start).split('\n').length : 0;
    const index = Math.floor((at - 1) / 2);
    return `${objects[index]?.kind}/${objects[index]?.metadata.name}: ${text}`;
  });
}

/**
 * The environment variables whose values secretsOf() scrubs: derived by running the configuration
 * with a recognisable value in every variable that takes one, not listed by hand.
 */
function secretVariables(): string[] {
  const token = (i: number) => `s${i}x${'q'.repeat(36)}`;
  // The last: a public key's 64 hex characters, which switch Discord on (with its token).
  const shapes = (t: string) => [t, `postgres://u:${t}@db.example/app`, `redis://:${t}@redis.example:6379`, `smtp://u:${t}@mail.example`, `https://${t}.example/`, 'a'.repeat(64)];
  const base = { AUTODEVHUB_SECRET: 'b'.repeat(40), DATA_DIR: tempDir('k8s-config') };
  const accepted: Record<string, string> = {};
  // First the value each variable's own schema takes (rules across variables come next).
  ENV_VARIABLES.forEach((name, i) => {
    for (const value of shapes(token(i))) {
      try {
        loadConfig({ ...base, [name]: value });
      } catch (err) {
        if ((err as Error).message.startsWith('Invalid configuration')) continue;
      }
      accepted[name] = value;
      return;
    }
  });
  // Then all at once, leaving out a variable the configuration still refuses (e.g. a CIDR list).
  for (;;) {
    try {
      const secrets = secretsOf(loadConfig({ ...base, ...accepted }));
      return ENV_VARIABLES.filter((name, i) => accepted[name] && secrets.some((s) => s.includes(token(i))));
    } catch (err) {
      const named = Object.keys(accepted).find((name) => (err as Error).message.startsWith(`${name}:`));
      if (!named) throw err;
      delete accepted[named];
    }
  }
}

const SECRETS = secretVariables();
const shutdownDeadlineMs = Number(/SHUTDOWN_DEADLINE_MS = ([\d_]+)/.exec(readFileSync('src/main.ts', 'utf8'))![1]!.replaceAll('_', ''));

const containersOf = (o: K8sObject): any[] => o.spec.template.spec.containers;
const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined) => Object.entries(selector).every(([k, v]) => labels?.[k] === v);

describe.skipIf(!hasKubectl)('deploy/kubernetes', () => {
  it('has the overlays small and large', () => {
    expect(OVERLAYS.sort()).toEqual(['large', 'small']);
  });

  it('derives the secret variables from the configuration (14 today, DATABASE_URL and REDIS_URL among them)', () => {
    expect(SECRETS).toEqual(expect.arrayContaining(['AUTODEVHUB_SECRET', 'DATABASE_URL', 'REDIS_URL', 'SLACK_SIGNING_SECRET', 'DISCORD_BOT_TOKEN', 'ANTHROPIC_API_KEY', 'SMTP_URL']));
    expect(SECRETS).toHaveLength(14);
    expect(SECRETS).not.toContain('PORT');
    expect(SECRETS).not.toContain('SLACK_API_URL');
  });

  describe.each(OVERLAYS)('overlay %s', (overlay) => {
    // Collected even when skipped: rendered only where kubectl is.
    const objects = hasKubectl ? render(overlay) : [];
    const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
    const one = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)!;
    const deployments = byKind('Deployment');
    const web = one('Deployment', 'autodevhub-web');
    const worker = one('Deployment', 'autodevhub-worker');
    const job = one('Job', 'autodevhub-migrate');
    const envMap = byKind('ConfigMap').find((c) => c.metadata.name.startsWith('autodevhub-env'))!;
    const configMap = byKind('ConfigMap').find((c) => c.metadata.name.startsWith('autodevhub-config'))!;

    it('renders the parts, all in one namespace', () => {
      expect(objects.map((o) => o.kind).sort()).toEqual(
        expect.arrayContaining(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Ingress', 'Job', 'Namespace', 'NetworkPolicy', 'PodDisruptionBudget', 'ScaledObject', 'Service', 'TriggerAuthentication']),
      );
      expect([web, worker, job, envMap, configMap].every(Boolean)).toBe(true);
      const ns = one('Namespace', 'autodevhub');
      expect(ns.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
      for (const o of objects) if (o.kind !== 'Namespace') expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('autodevhub');
      // Secrets are referenced, never created here.
      expect(byKind('Secret')).toEqual([]);
    });

    it('validates every object against the Kubernetes (and KEDA CRD) schemas', async () => {
      const errors: string[] = [];
      for (const o of objects) {
        const e = await schemaErrors(o);
        if (e) errors.push(`${o.kind}/${o.metadata.name}: ${e}`);
      }
      expect(errors).toEqual([]);
    });

    it('has no field the API does not know', () => {
      expect(unknownFieldErrors(objects)).toEqual([]);
    }, 60_000);

    it('gives every long-running container startup, readiness (/readyz) and liveness (/healthz) probes', () => {
      for (const d of deployments) {
        for (const c of containersOf(d)) {
          const port = c.ports.find((p: any) => p.name === 'http').containerPort;
          expect(String(port)).toBe(envMap.data.PORT);
          expect(c.startupProbe?.httpGet?.path, d.metadata.name).toBe('/healthz');
          expect(c.readinessProbe?.httpGet?.path, d.metadata.name).toBe('/readyz');
          expect(c.livenessProbe?.httpGet?.path, d.metadata.name).toBe('/healthz');
          // /readyz answers within 1 s whatever is down (src/readiness.ts): a 2 s timeout never cuts it short.
          expect(c.readinessProbe.timeoutSeconds).toBeGreaterThanOrEqual(2);
        }
      }
    });

    it('sets requests and limits, runs as non-root on a read-only root filesystem, with /tmp writable', () => {
      for (const w of [...deployments, job]) {
        const pod = w.spec.template.spec;
        expect(pod.securityContext.runAsNonRoot, w.metadata.name).toBe(true);
        expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
        expect(pod.automountServiceAccountToken).toBe(false);
        for (const c of pod.containers) {
          for (const r of ['cpu', 'memory']) {
            expect(c.resources?.requests?.[r], `${w.metadata.name} request ${r}`).toBeDefined();
            expect(c.resources?.limits?.[r], `${w.metadata.name} limit ${r}`).toBeDefined();
          }
          expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
          const tmp = c.volumeMounts.find((m: any) => m.mountPath === '/tmp');
          expect(pod.volumes.find((v: any) => v.name === tmp?.name)?.emptyDir, `${w.metadata.name} /tmp`).toBeDefined();
        }
      }
    });

    it('references every secret the application reads, by key, from the Secret autodevhub-secrets, in every container', () => {
      // A webhook in the config file names the variable of its signing secret: it is a secret too.
      const file = loadConfig({ AUTODEVHUB_SECRET: 'b'.repeat(40), DATA_DIR: tempDir('k8s-cfg'), AUTODEVHUB_CONFIG: writeConfig(configMap) });
      const webhookSecrets = file.projects.flatMap((p) => p.webhooks.map((w) => w.secret));
      expect(webhookSecrets).toEqual([]);
      for (const w of [web, worker, job]) {
        const env = containersOf(w)[0].env as Array<{ name: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } }>;
        for (const name of SECRETS) {
          const ref = env.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
          expect(ref, `${w.metadata.name}: ${name}`).toMatchObject({ name: 'autodevhub-secrets', key: name });
        }
        for (const required of ['AUTODEVHUB_SECRET', 'DATABASE_URL', 'REDIS_URL']) {
          expect(env.find((e) => e.name === required)?.valueFrom?.secretKeyRef?.optional, `${required} is required`).toBeFalsy();
        }
      }
      // No secret in the plain settings, and every plain setting is one the application reads.
      for (const key of Object.keys(envMap.data)) {
        expect(SECRETS, key).not.toContain(key);
        expect([...ENV_VARIABLES, 'NODE_ENV'], key).toContain(key);
      }
    });

    it('mounts the config file where AUTODEVHUB_CONFIG points, and the application accepts it', () => {
      const path = envMap.data.AUTODEVHUB_CONFIG as string;
      for (const w of [web, worker, job]) {
        const c = containersOf(w)[0];
        const mount = c.volumeMounts.find((m: any) => path.startsWith(`${m.mountPath}/`));
        const volume = w.spec.template.spec.volumes.find((v: any) => v.name === mount?.name);
        expect(volume?.configMap?.name, w.metadata.name).toBe(configMap.metadata.name);
        expect(Object.keys(configMap.data)).toContain(path.slice(mount.mountPath.length + 1));
        expect(c.envFrom).toContainEqual({ configMapRef: { name: envMap.metadata.name } });
      }
      const config = loadConfig({ AUTODEVHUB_SECRET: 'b'.repeat(40), DATA_DIR: tempDir('k8s-cfg'), AUTODEVHUB_CONFIG: writeConfig(configMap) });
      expect(config.projects.length).toBeGreaterThan(0);
    });

    it('runs web and worker roles, and the migrations Job of the same image runs the compiled `npm run migrate`', () => {
      const role = (d: K8sObject) => containersOf(d)[0].env.find((e: any) => e.name === 'AUTODEVHUB_ROLE')?.value;
      expect(role(web)).toBe('web');
      expect(role(worker)).toBe('worker');
      const [c] = containersOf(job);
      expect(c.image).toBe(containersOf(web)[0].image);
      expect(c.image).toBe(containersOf(worker)[0].image);
      // dist/src/cli/migrate.js is what tsc makes of src/cli/migrate.ts, the script behind `npm run migrate`.
      const script = c.command.find((a: string) => a.startsWith('dist/'));
      expect(existsSync(script.replace(/^dist\//, '').replace(/\.js$/, '.ts'))).toBe(true);
      expect(JSON.parse(readFileSync('package.json', 'utf8')).scripts.migrate).toContain(script.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
      expect(job.spec.template.spec.restartPolicy).toBe('Never');
    });

    it('gives pods the time their shutdown takes (src/main.ts), and web a preStop pause', () => {
      const deadline = shutdownDeadlineMs / 1000;
      expect(worker.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(deadline);
      const preStop = containersOf(web)[0].lifecycle.preStop.exec.command as string[];
      expect(preStop[0]).toBe('sleep');
      expect(web.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(deadline + Number(preStop[1]));
    });

    it('scales workers on the real BullMQ wait lists of every queue (KEDA), and web on CPU (HPA)', () => {
      const so = one('ScaledObject', 'autodevhub-worker');
      expect(so.spec.scaleTargetRef.name).toBe(worker.metadata.name);
      expect(so.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
      const keys = new QueueKeys(envMap.data.AUTODEVHUB_QUEUE_PREFIX);
      const waitLists = Object.values(QUEUE_NAMES).map((q) => keys.getKeys(q).wait).sort();
      expect(so.spec.triggers.map((t: any) => t.metadata.listName).sort()).toEqual(waitLists);
      for (const t of so.spec.triggers) {
        expect(t.type).toBe('redis');
        expect(one('TriggerAuthentication', t.authenticationRef.name)).toBeDefined();
      }
      const hpa = one('HorizontalPodAutoscaler', 'autodevhub-web');
      expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: web.metadata.name });
      expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      // No second HPA on the workers: KEDA owns theirs.
      expect(byKind('HorizontalPodAutoscaler')).toHaveLength(1);
    });

    it('routes the Service and Ingress to web pods, and covers each Deployment with a PDB and topology spread', () => {
      const svc = one('Service', 'autodevhub-web');
      expect(matches(svc.spec.selector, web.spec.template.metadata.labels)).toBe(true);
      expect(matches(svc.spec.selector, worker.spec.template.metadata.labels)).toBe(false);
      const ports = containersOf(web)[0].ports.map((p: any) => p.name);
      for (const p of svc.spec.ports) expect(ports).toContain(p.targetPort);
      const backend = one('Ingress', 'autodevhub').spec.rules[0].http.paths[0].backend.service;
      expect(backend.name).toBe(svc.metadata.name);
      expect(svc.spec.ports.map((p: any) => p.name)).toContain(backend.port.name);
      for (const d of deployments) {
        const labels = d.spec.template.metadata.labels;
        expect(matches(d.spec.selector.matchLabels, labels)).toBe(true);
        const pdbs = byKind('PodDisruptionBudget').filter((p) => matches(p.spec.selector.matchLabels, labels));
        expect(pdbs, d.metadata.name).toHaveLength(1);
        expect(pdbs[0]!.spec.maxUnavailable).toBeLessThan(d.spec.replicas);
        const spread = d.spec.template.spec.topologySpreadConstraints as any[];
        expect(spread.map((s) => s.topologyKey).sort()).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
        for (const s of spread) expect(matches(s.labelSelector.matchLabels, labels)).toBe(true);
      }
    });

    it('closes every pod both ways, then opens only what each part talks to', () => {
      const policies = byKind('NetworkPolicy');
      const applying = (labels: Record<string, string>) => policies.filter((p) => matches(p.spec.podSelector.matchLabels ?? {}, labels));
      const egressPorts = (labels: Record<string, string>) => applying(labels).flatMap((p) => (p.spec.egress ?? []).flatMap((r: any) => r.ports.map((x: any) => x.port)));
      const ingressPorts = (labels: Record<string, string>) => applying(labels).flatMap((p) => (p.spec.ingress ?? []).flatMap((r: any) => r.ports.map((x: any) => x.port)));
      for (const w of [web, worker, job]) {
        const labels = w.spec.template.metadata.labels;
        const deny = applying(labels).find((p) => p.spec.policyTypes.includes('Ingress') && p.spec.policyTypes.includes('Egress') && !p.spec.ingress && !p.spec.egress);
        expect(deny, `${w.metadata.name} default deny`).toBeDefined();
        expect(egressPorts(labels)).toEqual(expect.arrayContaining([53, 5432]));
      }
      expect(egressPorts(web.spec.template.metadata.labels)).toContain(6379);
      expect(egressPorts(worker.spec.template.metadata.labels)).toEqual(expect.arrayContaining([6379, 443]));
      // The migrations Job talks to Postgres only; nothing comes in to it.
      expect(egressPorts(job.spec.template.metadata.labels).sort()).toEqual([53, 53, 5432]);
      expect(ingressPorts(job.spec.template.metadata.labels)).toEqual([]);
      expect(ingressPorts(web.spec.template.metadata.labels)).toEqual([3000]);
    });
  });
});

function writeConfig(configMap: K8sObject): string {
  const file = join(tempDir('k8s-config-file'), 'autodevhub.yaml');
  writeFileSync(file, configMap.data['autodevhub.yaml']);
  return file;
}
