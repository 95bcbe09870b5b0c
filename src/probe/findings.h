/* Findings of `gannet probe`: a stable identifier (shared with `gannet config
 * check` where it means the same thing, docs/findings.md), a status, a
 * severity, a title for people, the evidence (bytes sent and received,
 * escaped) and references. */
#ifndef GANNET_PROBE_FINDINGS_H
#define GANNET_PROBE_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>

enum probe_severity { SEV_INFO, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL };
enum probe_status { ST_PASS, ST_FAIL, ST_SKIPPED };

struct probe_finding {
    char *id;
    enum probe_status status;
    enum probe_severity severity; /* what it is worth when it fails */
    char *title;
    char *evidence;
    char *refs;
};

struct probe_findings {
    struct probe_finding *v;
    size_t n;
};

__attribute__((format(printf, 7, 8))) void
probe_finding_add(struct probe_findings *f, const char *id, enum probe_status status,
                  enum probe_severity severity, const char *refs, const char *evidence,
                  const char *title_fmt, ...);
void probe_findings_free(struct probe_findings *f);
/* Failed first, worst severity first, then by id. */
void probe_findings_sort(struct probe_findings *f);
/* True when a finding at or above threshold failed. */
bool probe_findings_fail_at(const struct probe_findings *f, enum probe_severity threshold);

const char *probe_severity_name(enum probe_severity s);
const char *probe_status_name(enum probe_status s);
/* "info", "low", "medium", "high", "critical"; false when unknown. */
bool probe_severity_parse(const char *s, enum probe_severity *out);

#endif
