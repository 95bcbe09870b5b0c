/* Sequence sets (RFC 9051 §9 sequence-set): "1,3:5,7:*", or "$" for the saved
 * search result (RFC 5182). Used for message sequence numbers and UIDs alike. */
#ifndef GANNET_LIB_IMAP_IMAP_SEQSET_H
#define GANNET_LIB_IMAP_IMAP_SEQSET_H

#include "lib/arena.h"
#include "lib/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "*" is the largest number in use, whatever it will be. */
#define IMAP_SEQ_STAR UINT32_MAX

/* An inclusive range with first <= last ("5:3" is stored as 3:5). Same shape
 * as the store's struct store_uid_range, so a set can be handed to the store. */
struct imap_seq_range {
    uint32_t first;
    uint32_t last;
};

struct imap_seqset {
    struct imap_seq_range *ranges; /* in the arena, in the order sent */
    size_t count;
    bool saved; /* "$": the ranges are those of the last SEARCH SAVE */
};

/* Parses s[0..len). Numbers are nz-number or "*"; false for anything else. */
bool imap_seqset_parse(const char *s, size_t len, struct arena *a, struct imap_seqset *out);
/* Replaces "*" by max (the largest sequence number or UID in use) and puts
 * each range in order again ("5:*" with max 3 is 3:5, as RFC 9051 §9 says). */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t max);
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);
/* The compact form of an ascending list: "1:3,7" (COPYUID, SEARCH RETURN). */
void imap_seqset_write_list(struct buf *out, const uint32_t *numbers, size_t count);

#endif
