/* Body text for full-text SEARCH (RFC 9051 §6.4.4 BODY/TEXT): transfer
 * encodings decoded (RFC 2045 §6.7, §6.8), charsets converted to UTF-8, HTML
 * reduced to its text. Streaming, with a capped output. */
#ifndef GANNET_MAIL_SEARCH_TEXT_H
#define GANNET_MAIL_SEARCH_TEXT_H

#include "lib/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* The body text kept for full-text search, per message. Indexing it costs
 * about three times this in memory at the commit (FTS5's pending terms), so
 * it is what bounds the memory of one APPEND or delivery. */
#define SEARCH_TEXT_MAX (512 * 1024)

struct search_text;

/* Text is appended to out, never beyond cap bytes. */
struct search_text *search_text_new(struct buf *out, size_t cap);
void search_text_free(struct search_text *st);
/* Starts a part: encoding and charset as in its header (NULL = 7bit,
 * us-ascii); html when it is text/html. */
void search_text_begin(struct search_text *st, const char *encoding, const char *charset,
                       bool html);
void search_text_feed(struct search_text *st, const char *data, size_t len);
void search_text_end(struct search_text *st);

/* The decoders alone, for tests: each keeps its state between calls. */
struct qp_decoder {
    char pending[3];
    size_t npending;
};
void qp_decode(struct qp_decoder *d, const char *in, size_t len, struct buf *out);
struct b64_decoder {
    unsigned acc;
    int bits;
    bool done;
};
void b64_decode(struct b64_decoder *d, const char *in, size_t len, struct buf *out);

#endif
