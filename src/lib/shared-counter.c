#include "lib/shared-counter.h"

#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>

/* A slot is claimed by writing its key hash; it is never released, but a slot
 * whose count is 0 and whose stamp is older than RECLAIM_SECONDS may be taken
 * over by another key, so the table does not fill up with stale addresses. */
#define PROBE_LIMIT 64
#define RECLAIM_SECONDS 3600

struct slot {
    _Atomic uint64_t key;
    _Atomic int32_t count;
    _Atomic uint32_t stamp;
};

struct shared_counters {
    uint64_t seed;
    size_t n_slots;
    size_t map_size;
    struct slot slots[];
};

struct shared_counters *shared_counters_create(size_t n_slots)
{
    size_t size = sizeof(struct shared_counters) + n_slots * sizeof(struct slot);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    struct shared_counters *t = p;
    t->n_slots = n_slots;
    t->map_size = size;
    if (RAND_bytes((unsigned char *)&t->seed, sizeof(t->seed)) != 1)
        t->seed = 0x9e3779b97f4a7c15u;
    return t;
}

void shared_counters_destroy(struct shared_counters *t)
{
    if (t)
        munmap(t, t->map_size);
}

/* FNV-1a over the seed and the key, then a final mix; never 0 (0 = free slot). */
static uint64_t key_hash(const struct shared_counters *t, const void *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u ^ t->seed;
    const unsigned char *p = key;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3u;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    return h ? h : 1;
}

static struct slot *find_slot(struct shared_counters *t, uint64_t h, bool create, uint32_t now)
{
    size_t start = (size_t)(h % t->n_slots);
    for (size_t i = 0; i < PROBE_LIMIT && i < t->n_slots; i++) {
        struct slot *s = &t->slots[(start + i) % t->n_slots];
        uint64_t k = atomic_load(&s->key);
        if (k == h)
            return s;
        if (!create)
            continue;
        if (k == 0) {
            uint64_t expected = 0;
            if (atomic_compare_exchange_strong(&s->key, &expected, h) || expected == h)
                return s;
            continue;
        }
        if (atomic_load(&s->count) == 0 && now - atomic_load(&s->stamp) > RECLAIM_SECONDS &&
            atomic_compare_exchange_strong(&s->key, &k, h)) {
            atomic_store(&s->stamp, now);
            return s;
        }
    }
    return NULL;
}

int32_t shared_counter_add(struct shared_counters *t, const void *key, size_t key_len,
                           int32_t delta, uint32_t now)
{
    struct slot *s = find_slot(t, key_hash(t, key, key_len), delta > 0, now);
    if (!s)
        return 0;
    if (delta > 0)
        atomic_store(&s->stamp, now);
    int32_t v = atomic_fetch_add(&s->count, delta) + delta;
    if (v < 0) {
        /* A decrement raced with a reclaim: never let a counter go negative. */
        atomic_fetch_sub(&s->count, v);
        v = 0;
    }
    return v;
}

int32_t shared_counter_get(struct shared_counters *t, const void *key, size_t key_len,
                           uint32_t *stamp)
{
    struct slot *s = find_slot(t, key_hash(t, key, key_len), false, 0);
    if (stamp)
        *stamp = s ? atomic_load(&s->stamp) : 0;
    return s ? atomic_load(&s->count) : 0;
}

void shared_counter_clear(struct shared_counters *t, const void *key, size_t key_len)
{
    struct slot *s = find_slot(t, key_hash(t, key, key_len), false, 0);
    if (s)
        atomic_store(&s->count, 0);
}
