/* Counters shared by every worker process: connections per address, failed
 * logins per address, sessions per user and address. The table lives in an
 * anonymous shared mapping made by the master before it forks, so limits hold
 * for the whole server, not per worker. Keys are hashed with a secret seed;
 * a full table fails open (limits stop applying) rather than refusing everyone. */
#ifndef GANNET_LIB_SHARED_COUNTER_H
#define GANNET_LIB_SHARED_COUNTER_H

#include <stddef.h>
#include <stdint.h>

struct shared_counters;

/* Returns NULL when the mapping cannot be made. */
struct shared_counters *shared_counters_create(size_t n_slots);
void shared_counters_destroy(struct shared_counters *t);

/* Adds delta to the counter named by the key bytes and returns the new value
 * (never below 0). The counter's time stamp becomes `now` when delta > 0. */
int32_t shared_counter_add(struct shared_counters *t, const void *key, size_t key_len,
                           int32_t delta, uint32_t now);
/* Reads a counter and the time stamp of its last increase (0 when unknown). */
int32_t shared_counter_get(struct shared_counters *t, const void *key, size_t key_len,
                           uint32_t *stamp);
/* Sets a counter to zero. */
void shared_counter_clear(struct shared_counters *t, const void *key, size_t key_len);

#endif
