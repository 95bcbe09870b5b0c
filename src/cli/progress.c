/* Progress line for long admin commands: see progress.h. */
#include "cli/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void progress_init(struct progress *p, const char *what, const char *unit, uint64_t total)
{
    p->tty = isatty(STDERR_FILENO) == 1;
    p->what = what;
    p->unit = unit;
    p->total = total;
    p->last_ms = 0;
    p->drawn = false;
}

static void draw(struct progress *p, uint64_t done)
{
    if (p->total > 0)
        fprintf(stderr, "\r%s: %llu/%llu %s (%u%%)\x1b[K", p->what, (unsigned long long)done,
                (unsigned long long)p->total, p->unit,
                (unsigned)(done >= p->total ? 100 : done * 100 / p->total));
    else
        fprintf(stderr, "\r%s: %llu %s\x1b[K", p->what, (unsigned long long)done, p->unit);
    fflush(stderr);
    p->drawn = true;
}

void progress_update(struct progress *p, uint64_t done)
{
    if (!p->tty)
        return;
    uint64_t t = now_ms();
    if (p->drawn && t - p->last_ms < 100)
        return;
    p->last_ms = t;
    draw(p, done);
}

void progress_done(struct progress *p, uint64_t done)
{
    if (!p->tty)
        return;
    draw(p, done);
    fputc('\n', stderr);
    p->drawn = false;
}
