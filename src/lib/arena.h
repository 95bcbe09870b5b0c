/* An arena: memory for one command or one request (DESIGN.md "Conventions"),
 * handed out by bumping a pointer through chunks and given back in one call.
 * Cleanup callbacks (closing a file, freeing what a library allocated) run
 * when the arena is reset, newest first, so a command's resources have one
 * owner and one end. */
#ifndef GANNET_LIB_ARENA_H
#define GANNET_LIB_ARENA_H

#include <stddef.h>

struct arena_chunk;
struct arena_cleanup;

/* Zero-initialise (ARENA_INIT); owned by whoever embeds it. */
struct arena {
    struct arena_chunk *chunks; /* newest first */
    struct arena_cleanup *cleanups;
    size_t allocated; /* bytes of chunks held, for budgets and tests */
};
#define ARENA_INIT                                                                                 \
    {                                                                                              \
        NULL, NULL, 0                                                                              \
    }

/* Zeroed memory aligned for any type; aborts on allocation failure like xmalloc. */
void *arena_alloc(struct arena *a, size_t size);
/* A copy of s[0..len) with a NUL after it. */
char *arena_strndup(struct arena *a, const char *s, size_t len);
char *arena_strdup(struct arena *a, const char *s);
/* Runs fn(arg) at the next arena_reset/arena_free. */
void arena_on_reset(struct arena *a, void (*fn)(void *arg), void *arg);
/* Runs the cleanups, then gives back everything but the first chunk. */
void arena_reset(struct arena *a);
/* Runs the cleanups and gives back everything. */
void arena_free(struct arena *a);

#endif
