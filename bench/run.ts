import { runIngressBench } from './ingress.js';
import { runFanoutBench } from './fanout.js';
import { runStoriesBench } from './stories.js';
import { runIngressProfile } from './profile-ingress.js';
import { runE2eBench } from './e2e.js';
import { runDecompose } from './decompose.js';
import { runApiIngressBench, runDiscordIngressBench } from './platforms.js';
import { runScaleBench } from './scale.js';

const scenarios: Record<string, () => Promise<void>> = {
  ingress: runIngressBench,
  fanout: runFanoutBench,
  stories: runStoriesBench,
  'profile-ingress': runIngressProfile,
  e2e: runE2eBench,
  decompose: runDecompose,
  'ingress-discord': runDiscordIngressBench,
  'ingress-api': runApiIngressBench,
  scale: runScaleBench,
};

const name = process.argv[2];
const scenario = name ? scenarios[name] : undefined;
if (!scenario) {
  console.error(`usage: npm run bench -- <${Object.keys(scenarios).join('|')}>`);
  process.exit(2);
}
scenario().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
