import { runIngressBench } from './ingress.js';
import { runFanoutBench } from './fanout.js';

const scenarios: Record<string, () => Promise<void>> = {
  ingress: runIngressBench,
  fanout: runFanoutBench,
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
