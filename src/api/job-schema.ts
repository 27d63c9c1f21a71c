import { z } from 'zod';
import { UNSUPPORTED } from './schema.js';
import { apiIssue, labelSelector, podTemplateSpec, workloadMetadata } from './workload-schema.js';

/**
 * A batch/v1 Job as the API server validates and defaults it (pkg/apis/batch/validation/validation.go
 * ValidateJob, validateJobSpec, validatePodFailurePolicy; pkg/apis/batch/v1/defaults.go SetDefaults_Job).
 * Unknown fields are refused by name, as for a pod (schema.ts); the template's spec is a pod spec.
 */

const nonNegative = z.number().int().min(0, 'must be greater than or equal to 0');
const ignored = () => z.unknown().optional();
const unsupported = (why: string) =>
  z
    .unknown()
    .optional()
    .superRefine((v, ctx) => {
      if (v !== undefined && v !== null && v !== false)
        ctx.addIssue({ code: 'custom', message: why, params: { [UNSUPPORTED]: true } });
    });

/** validation.go: maxParallelismForIndexedJob and maxCompletionsForIndexedJob... */
const MAX_INDEXED = 100_000;
/** ...and maxPodFailurePolicyRules, maxPodFailurePolicyOnExitCodesValues (and ...OnPodConditionsPatterns). */
const MAX_RULES = 20;
const MAX_EXIT_CODES = 255;

const podFailurePolicyRule = z.strictObject({
  action: z.enum(['FailJob', 'FailIndex', 'Ignore', 'Count']),
  onExitCodes: z
    .strictObject({
      containerName: z.string().optional(),
      operator: z.enum(['In', 'NotIn']),
      values: z.array(z.number().int()).min(1, 'Required value').max(MAX_EXIT_CODES),
    })
    .optional(),
  onPodConditions: z
    .array(z.strictObject({ type: z.string().min(1), status: z.enum(['True', 'False', 'Unknown']).default('True') }))
    .max(MAX_RULES)
    .optional(),
});

const jobSpec = z.strictObject({
  parallelism: nonNegative.optional(),
  completions: nonNegative.optional(),
  activeDeadlineSeconds: z.number().int().min(1, 'must be greater than 0').optional(),
  backoffLimit: nonNegative.optional(),
  backoffLimitPerIndex: nonNegative.optional(),
  maxFailedIndexes: nonNegative.optional(),
  completionMode: z.enum(['NonIndexed', 'Indexed']).default('NonIndexed'),
  podFailurePolicy: z.strictObject({ rules: z.array(podFailurePolicyRule).max(MAX_RULES) }).optional(),
  podReplacementPolicy: z.enum(['TerminatingOrFailed', 'Failed']).optional(),
  ttlSecondsAfterFinished: nonNegative.optional(),
  suspend: unsupported('suspend is not supported: podbox has no API server to resume the Job through'),
  successPolicy: unsupported('successPolicy is not supported yet: the Job completes by its completions'),
  // The API server makes the selector (batch.kubernetes.io/controller-uid); one given by hand needs
  // manualSelector, which podbox does not support (strategy.go generateSelector).
  selector: labelSelector.optional(),
  manualSelector: unsupported("manualSelector is not supported: podbox selects a Job's pods by its uid"),
  managedBy: ignored(),
  template: podTemplateSpec,
});

export const job = z
  .strictObject({
    apiVersion: z.literal('batch/v1'),
    kind: z.literal('Job'),
    metadata: workloadMetadata,
    spec: jobSpec,
    // The API server ignores status on create; `kubectl get -o yaml` output carries one.
    status: ignored(),
  })
  .superRefine((j, ctx) => jobChecks(j.spec, ctx))
  .transform((j) => ({ ...j, spec: withJobDefaults(j.spec) }));

type DecodedJobSpec = z.output<typeof jobSpec>;

/** A validated Job, with SetDefaults_Job's defaults filled in. */
export type Job = z.output<typeof job>;
export type JobSpec = Job['spec'];
export type PodFailurePolicyRule = z.output<typeof podFailurePolicyRule>;

/**
 * SetDefaults_Job (pkg/apis/batch/v1/defaults.go): completions and parallelism 1 when neither is
 * set; backoffLimit 6, or MaxInt32 with backoffLimitPerIndex; podReplacementPolicy Failed with a
 * podFailurePolicy, else TerminatingOrFailed.
 */
function withJobDefaults(s: DecodedJobSpec) {
  const neither = s.completions === undefined && s.parallelism === undefined;
  return {
    ...s,
    completions: neither ? 1 : s.completions,
    parallelism: s.parallelism ?? 1,
    backoffLimit: s.backoffLimit ?? (s.backoffLimitPerIndex !== undefined ? 2147483647 : 6),
    podReplacementPolicy: s.podReplacementPolicy ?? (s.podFailurePolicy ? 'Failed' : 'TerminatingOrFailed'),
  } as const;
}

/** validateJobSpec's rules across fields, in the API server's words. */
function jobChecks(s: DecodedJobSpec, ctx: z.RefinementCtx): void {
  const spec = (...p: (string | number)[]) => ['spec', ...p];
  if (s.selector)
    apiIssue(ctx, spec('selector'), '`selector` will be auto-generated', 'remove spec.selector: podbox makes it');
  const indexed = s.completionMode === 'Indexed';
  if (indexed) {
    if (s.completions === undefined)
      apiIssue(ctx, spec('completions'), 'Required value: when completion mode is Indexed', 'set completions');
    else if (s.completions > MAX_INDEXED)
      apiIssue(
        ctx,
        spec('completions'),
        `Invalid value: ${s.completions}: must be less than or equal to ${MAX_INDEXED} when completion mode is Indexed`,
        `give at most ${MAX_INDEXED} completions`,
      );
    if ((s.parallelism ?? 1) > MAX_INDEXED)
      apiIssue(
        ctx,
        spec('parallelism'),
        `Invalid value: ${s.parallelism}: must be less than or equal to ${MAX_INDEXED} when completion mode is Indexed`,
        `give a parallelism of at most ${MAX_INDEXED}`,
      );
  }
  if (s.backoffLimitPerIndex !== undefined && !indexed)
    apiIssue(
      ctx,
      spec('backoffLimitPerIndex'),
      'Forbidden: requires indexed completion mode',
      'set completionMode: Indexed',
    );
  if (s.maxFailedIndexes !== undefined) {
    if (s.backoffLimitPerIndex === undefined)
      apiIssue(
        ctx,
        spec('backoffLimitPerIndex'),
        'Required value: when maxFailedIndexes is specified',
        'set backoffLimitPerIndex',
      );
    else if (s.completions !== undefined && s.maxFailedIndexes > s.completions)
      apiIssue(
        ctx,
        spec('maxFailedIndexes'),
        `Invalid value: ${s.maxFailedIndexes}: must be less than or equal to completions`,
        'give at most as many failed indexes as completions',
      );
  }
  // validateJobPodTemplateSpec: a Job's pods end; with a failure policy or per-index limits, a
  // failure must show as the pod's, not as a container restarted in place.
  const policy = s.template.spec.restartPolicy;
  const restartPolicy = spec('template', 'spec', 'restartPolicy');
  if (policy !== 'OnFailure' && policy !== 'Never')
    apiIssue(
      ctx,
      restartPolicy,
      `Unsupported value: "${policy}": supported values: "OnFailure", "Never"`,
      'set restartPolicy: Never (or OnFailure) in the template',
    );
  else if (policy !== 'Never' && s.podFailurePolicy)
    apiIssue(
      ctx,
      restartPolicy,
      `Invalid value: "${policy}": only "Never" is supported when podFailurePolicy is specified`,
      'set restartPolicy: Never',
    );
  else if (policy !== 'Never' && s.backoffLimitPerIndex !== undefined)
    apiIssue(
      ctx,
      restartPolicy,
      `Invalid value: "${policy}": only "Never" is supported when backoffLimitPerIndex is specified`,
      'set restartPolicy: Never',
    );
  const names = new Set([...s.template.spec.containers, ...(s.template.spec.initContainers ?? [])].map((c) => c.name));
  s.podFailurePolicy?.rules.forEach((r, i) => {
    const rule = (...p: (string | number)[]) => spec('podFailurePolicy', 'rules', i, ...p);
    if (r.action === 'FailIndex' && s.backoffLimitPerIndex === undefined)
      apiIssue(
        ctx,
        rule('action'),
        'Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set',
        'set backoffLimitPerIndex, or use another action',
      );
    if (!r.onExitCodes === !r.onPodConditions)
      apiIssue(
        ctx,
        rule(),
        r.onExitCodes
          ? 'Invalid value: specifying both OnExitCodes and OnPodConditions is not supported'
          : 'Invalid value: specifying one of OnExitCodes and OnPodConditions is required',
        'give each rule exactly one of onExitCodes and onPodConditions',
      );
    const codes = r.onExitCodes;
    if (!codes) return;
    if (codes.containerName !== undefined && !names.has(codes.containerName))
      apiIssue(
        ctx,
        rule('onExitCodes', 'containerName'),
        `Invalid value: "${codes.containerName}": ` +
          'must be one of the container or initContainer names in the pod template',
        'name a container of the template, or leave containerName out',
      );
    codes.values.forEach((v, j) => {
      const at = rule('onExitCodes', 'values', j);
      if (codes.operator === 'In' && v === 0)
        apiIssue(ctx, at, 'Invalid value: 0: must not be 0 for the In operator', 'exit code 0 is a success');
      else if (j > 0 && v === codes.values[j - 1])
        apiIssue(ctx, at, `Duplicate value: ${v}`, 'give each exit code once');
      else if (j > 0 && v < codes.values[j - 1]!)
        apiIssue(ctx, at, `Invalid value: ${v}: must be ordered`, 'list the exit codes in increasing order');
    });
  });
}
