/* Progress of a long admin command (import, index rebuild) on a terminal: one
 * line on stderr, rewritten with \r at most ten times a second. Nothing at all
 * when stderr is not a terminal, so that logs and pipes stay clean. */
#ifndef GANNET_CLI_PROGRESS_H
#define GANNET_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct progress {
    bool tty;
    const char *what; /* "importing", "rebuilding" */
    const char *unit; /* "messages", "bytes" */
    uint64_t total;   /* 0: unknown */
    uint64_t last_ms; /* when the line was last drawn */
    bool drawn;
};

void progress_init(struct progress *p, const char *what, const char *unit, uint64_t total);
/* Redraws the line if 100 ms have passed since the last time. */
void progress_update(struct progress *p, uint64_t done);
/* Draws the final count and ends the line. */
void progress_done(struct progress *p, uint64_t done);

#endif
