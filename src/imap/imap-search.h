/* SEARCH programs (RFC 9051 §6.4.4, RFC 7162 §3.1.5): the search keys of a
 * SEARCH or UID SEARCH parsed into a tree on the loop, then evaluated in the
 * session's store jobs, a slice of the mailbox at a time, against what the
 * index holds (flags, dates, sizes, MODSEQ), the cached header section
 * (HEADER, FROM, SUBJECT, ..., SENTON) and the text the full-text index
 * keeps (BODY, TEXT), narrowed by that index first.
 *
 * Also the session's saved search result (RFC 5182 "$"), which FETCH, STORE,
 * COPY, MOVE and the SEARCH keys themselves read. */
#ifndef GANNET_IMAP_IMAP_SEARCH_H
#define GANNET_IMAP_IMAP_SEARCH_H

#include "lib-imap/imap-parser.h"
#include "lib-imap/imap-seqset.h"
#include "lib/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap_session;
struct store_mailbox;
struct store_uids;

/* ---- the saved search result (RFC 5182, RFC 9051 §6.4.4.1) ---- */

/* The UIDs (ascending) that the last SEARCH RETURN (SAVE) of the session
 * found: the session's search_saved, which "$" names whether a command takes
 * sequence numbers or UIDs (imap-msgset.h reads it for FETCH, STORE, COPY,
 * MOVE). Empty (not NULL) after SELECT, EXAMINE, CLOSE, UNSELECT and a
 * failed SEARCH ... SAVE; NULL before the first SELECT. UIDs expunged since
 * stay listed: a command resolves them against its view. Owned by the
 * session, valid until the next SEARCH or SELECT: a store job takes a copy. */
const struct store_uids *imap_search_saved(const struct imap_session *s);
/* Replaces it with uids (heap, taken over). */
void imap_search_saved_set(struct imap_session *s, struct store_uids *uids);
/* Makes it empty. */
void imap_search_saved_reset(struct imap_session *s);

/* ---- programs ---- */

/* Bounds on a program: keys in all, and nesting of NOT, OR and parentheses
 * (the evaluation recurses that deep). Beyond them the command is BAD. */
#define SEARCH_MAX_KEYS 1000
#define SEARCH_MAX_DEPTH 32
/* Keys that read header sections or text (each costs its search in every
 * message it reaches); the first SEARCH_MAX_NARROWED of them ask the word
 * index for their candidates, the others read every message. */
#define SEARCH_MAX_TEXT_KEYS 64
#define SEARCH_MAX_NARROWED 16

/* Owner: the SEARCH command's state, freed with imap_search_free. */
struct search_program;

/* Parses the search keys args[0..n) (after RETURN and CHARSET). saved is
 * what "$" stands for (copied; NULL: no message). NULL with a reason for
 * BAD. */
struct search_program *imap_search_parse(const struct imap_arg *args, size_t n,
                                         const struct store_uids *saved, const char **error);
void imap_search_free(struct search_program *p);
/* The program has a MODSEQ key (RFC 7162 §3.1.5: the result gives MODSEQ). */
bool imap_search_has_modseq(const struct search_program *p);

/* What a program found, by position in the view (sequence number - 1). */
struct search_matches {
    uint64_t *bits;          /* one bit per message of the view */
    size_t n;                /* messages in the view */
    size_t count;            /* bits set */
    size_t first;            /* the lowest position found, when count > 0 */
    size_t last;             /* the highest */
    uint64_t highest_modseq; /* over every message found */
    uint64_t first_modseq, last_modseq;
};
void search_matches_free(struct search_matches *r);
static inline bool search_matches_has(const struct search_matches *r, size_t pos)
{
    return (r->bits[pos / 64] >> (pos % 64)) & 1u;
}

/* In a store job, first: resolves the sequence sets and dates against m and
 * asks the full-text index for the candidates of the text keys; sizes r for
 * the view. *from and *to are the positions that can match at all. */
int imap_search_prepare(struct search_program *p, struct store_mailbox *m, struct search_matches *r,
                        size_t *from, size_t *to, struct buf *err);
/* Then, in as many jobs as it takes: evaluates positions [from, to) of the
 * view into r. */
int imap_search_run(struct search_program *p, struct store_mailbox *m, size_t from, size_t to,
                    struct search_matches *r, struct buf *err);

#endif
