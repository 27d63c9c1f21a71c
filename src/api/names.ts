/**
 * Kubernetes' name rules (apimachinery pkg/util/validation/validation.go IsDNS1123Subdomain), in a
 * module without the schema library, for the code that runs in the supervisor (a named volume's
 * name is checked there too: it becomes a path component).
 */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const DNS_SUBDOMAIN_MAX = 253;

/** Why `name` is not a DNS subdomain, in the schema's words, or undefined. */
export function dnsSubdomainProblem(name: string): string | undefined {
  if (name.length > DNS_SUBDOMAIN_MAX) return `must be no more than ${DNS_SUBDOMAIN_MAX} characters`;
  if (!DNS_SUBDOMAIN.test(name))
    return "must be a lowercase RFC 1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit";
  return undefined;
}
