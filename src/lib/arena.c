#include "lib/arena.h"

#include "lib/buf.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Most commands fit in the first chunk; big ones grow it geometrically. */
#define ARENA_FIRST_CHUNK 1024
#define ARENA_ALIGN alignof(max_align_t)

struct arena_chunk {
    struct arena_chunk *next;
    size_t size, used;
    alignas(max_align_t) unsigned char data[];
};

struct arena_cleanup {
    struct arena_cleanup *next;
    void (*fn)(void *arg);
    void *arg;
};

static size_t align_up(size_t n)
{
    return (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}

void *arena_alloc(struct arena *a, size_t size)
{
    size_t need = align_up(size ? size : 1);
    struct arena_chunk *c = a->chunks;
    if (!c || c->size - c->used < need) {
        size_t chunk = c ? c->size * 2 : ARENA_FIRST_CHUNK;
        while (chunk < need)
            chunk *= 2;
        c = xmalloc(sizeof(*c) + chunk);
        c->size = chunk;
        c->used = 0;
        c->next = a->chunks;
        a->chunks = c;
        a->allocated += chunk;
    }
    void *p = c->data + c->used;
    c->used += need;
    memset(p, 0, size);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
    char *p = arena_alloc(a, len + 1);
    if (len)
        memcpy(p, s, len);
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

void arena_on_reset(struct arena *a, void (*fn)(void *arg), void *arg)
{
    struct arena_cleanup *cl = arena_alloc(a, sizeof(*cl));
    cl->fn = fn;
    cl->arg = arg;
    cl->next = a->cleanups;
    a->cleanups = cl;
}

static void run_cleanups(struct arena *a)
{
    /* A cleanup may allocate from the arena (rare); take the list first. */
    while (a->cleanups) {
        struct arena_cleanup *cl = a->cleanups;
        a->cleanups = cl->next;
        cl->fn(cl->arg);
    }
}

void arena_reset(struct arena *a)
{
    run_cleanups(a);
    struct arena_chunk *c = a->chunks;
    if (!c)
        return;
    /* Keep the oldest chunk when it is a small one: the next command reuses it. */
    while (c->next) {
        struct arena_chunk *next = c->next;
        a->allocated -= c->size;
        free(c);
        c = next;
    }
    if (c->size > ARENA_FIRST_CHUNK) {
        a->allocated -= c->size;
        free(c);
        a->chunks = NULL;
        return;
    }
    c->used = 0;
    a->chunks = c;
}

void arena_free(struct arena *a)
{
    arena_reset(a);
    free(a->chunks);
    a->chunks = NULL;
    a->allocated = 0;
}
