/* Findings of `gannet probe` (see findings.h). */
#include "probe/findings.h"

#include "lib/buf.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const severity_names[] = {"info", "low", "medium", "high", "critical"};

const char *probe_severity_name(enum probe_severity s)
{
    return severity_names[s];
}

const char *probe_status_name(enum probe_status s)
{
    return s == ST_PASS ? "pass" : s == ST_FAIL ? "fail" : "skipped";
}

bool probe_severity_parse(const char *s, enum probe_severity *out)
{
    for (int i = 0; i <= SEV_CRITICAL; i++)
        if (strcasecmp(s, severity_names[i]) == 0) {
            *out = (enum probe_severity)i;
            return true;
        }
    return false;
}

void probe_finding_add(struct probe_findings *f, const char *id, enum probe_status status,
                       enum probe_severity severity, const char *refs, const char *evidence,
                       const char *title_fmt, ...)
{
    f->v = xrealloc(f->v, (f->n + 1) * sizeof(*f->v));
    struct probe_finding *x = &f->v[f->n++];
    struct buf t = BUF_INIT;
    va_list ap;
    va_start(ap, title_fmt);
    buf_vprintf(&t, title_fmt, ap);
    va_end(ap);
    x->id = xstrdup(id);
    x->status = status;
    x->severity = severity;
    x->title = buf_steal(&t);
    x->evidence = xstrdup(evidence ? evidence : "");
    x->refs = xstrdup(refs ? refs : "");
}

void probe_findings_free(struct probe_findings *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].id);
        free(f->v[i].title);
        free(f->v[i].evidence);
        free(f->v[i].refs);
    }
    free(f->v);
    f->v = NULL;
    f->n = 0;
}

static int rank(const struct probe_finding *x)
{
    int st = x->status == ST_FAIL ? 0 : x->status == ST_PASS ? 1 : 2;
    return st * 10 + (SEV_CRITICAL - (int)x->severity);
}

static int cmp_finding(const void *a, const void *b)
{
    const struct probe_finding *x = a, *y = b;
    int d = rank(x) - rank(y);
    return d ? d : strcmp(x->id, y->id);
}

void probe_findings_sort(struct probe_findings *f)
{
    if (f->n > 1)
        qsort(f->v, f->n, sizeof(*f->v), cmp_finding);
}

bool probe_findings_fail_at(const struct probe_findings *f, enum probe_severity threshold)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->v[i].status == ST_FAIL && f->v[i].severity >= threshold)
            return true;
    return false;
}
