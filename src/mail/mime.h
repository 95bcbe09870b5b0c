/* The streaming MIME tree (RFC 2045, RFC 2046): parts, their Content-*
 * fields, sizes and line counts, built from whatever chunks arrive. */
#ifndef GANNET_MAIL_MIME_H
#define GANNET_MAIL_MIME_H

#include "mail/address.h"
#include "mail/rfc2231.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds (Dovecot's defaults for max_nested_mime_parts and
 * max_total_mime_parts): deeper or further parts are opaque bodies. */
#define MIME_DEPTH_MAX 100
#define MIME_PARTS_MAX 10000
/* A longer line is handled in pieces: only a line's start can be a boundary,
 * and a boundary is at most 70 characters (RFC 2046 §5.1.1). */
#define MIME_LINE_MAX 8192

enum mime_part_flags {
    MIME_PART_MULTIPART = 1 << 0,
    MIME_PART_RFC822 = 1 << 1, /* message/rfc822: has exactly one child */
    MIME_PART_IS_MIME = 1 << 2,
    MIME_PART_DIGEST = 1 << 3, /* multipart/digest: children default to message/rfc822 */
};

enum envelope_field {
    ENV_DATE,
    ENV_SUBJECT,
    ENV_FROM,
    ENV_SENDER,
    ENV_REPLY_TO,
    ENV_TO,
    ENV_CC,
    ENV_BCC,
    ENV_IN_REPLY_TO,
    ENV_MESSAGE_ID,
    ENV_FIELD_COUNT
};
/* From, Sender, Reply-To, To, Cc and Bcc are address lists. */
#define ENV_ADDRESS_FIRST ENV_FROM
#define ENV_ADDRESS_COUNT (ENV_BCC - ENV_FROM + 1)

/* One part; owned by its parent (the root by the parser). Strings are the
 * unfolded field values, NULL when the field was absent. */
struct mime_part {
    struct mime_part *parent, *children, *last_child, *next;
    unsigned flags;
    unsigned depth;
    char *type, *subtype; /* subtype "" when the Content-Type had none */
    struct mime_param *params;
    size_t nparams;
    bool type_seen, params_parsed;
    char *id, *description, *encoding, *md5, *location;
    char *disposition;
    struct mime_param *disp_params;
    size_t ndisp_params;
    char **languages;
    size_t nlanguages;
    char *boundary;       /* multipart: the delimiter without "--" */
    bool boundary_closed; /* the close delimiter was seen: epilogue follows */
    bool has_envelope;    /* the root, and the child of a message/rfc822 */
    /* Date, Subject, In-Reply-To, Message-ID: the value of the last such
     * field, NULL when there is none (a repeated one replaces the value, as in
     * Dovecot); NULL for the address fields, which are in addresses. */
    char *envelope[ENV_FIELD_COUNT];
    /* From .. Bcc (index field - ENV_ADDRESS_FIRST): the addresses of every
     * field of that name, in order (Dovecot lists them all). */
    struct mail_address_list addresses[ENV_ADDRESS_COUNT];
    /* IMAP sizes count every line end as CRLF (RFC 9051 §7.5.2 body-fld-octets
     * are the octets sent, and a server sends CRLF) */
    uint64_t body_start, body_size;
    uint64_t lines_start, body_lines;
    uint64_t header_phys_size; /* bytes of the header incl. the blank line */
    /* Where the part lies, for FETCH BODY[section] (RFC 9051 §6.4.5.1): the
     * header from header_start (virtual, CRLF counted) to body_start, and in
     * the bytes as stored, the header from phys_header_start to
     * phys_body_start and the body to phys_body_end (the line end before a
     * boundary belongs to the boundary, as in body_size). */
    uint64_t header_start;
    uint64_t phys_header_start, phys_body_start, phys_body_end;
    bool header_ended; /* the header is complete: type, flags and body_start are known */
    bool ended;        /* the body is complete: its sizes and end are known */
};

struct mime_parser;

/* Called for every complete header field of every part (raw is the field as
 * written, folding and line end included, cut at HEADER_FIELD_MAX). */
typedef void mime_header_cb(void *ctx, struct mime_part *part, const char *raw, size_t len);
/* Called once a part's header has ended and its type is known. */
typedef void mime_part_cb(void *ctx, struct mime_part *part);
/* Body bytes of a part that has no children (line ends included). */
typedef void mime_body_cb(void *ctx, struct mime_part *part, const char *data, size_t len);

struct mime_callbacks {
    mime_header_cb *header;
    mime_part_cb *header_end;
    mime_body_cb *body;
    mime_part_cb *part_end;
    void *ctx;
};

struct mime_parser *mime_parser_new(const struct mime_callbacks *cb);
void mime_parser_feed(struct mime_parser *mp, const char *data, size_t len);
/* Ends the message; the tree stays valid until mime_parser_free. */
struct mime_part *mime_parser_finish(struct mime_parser *mp);
void mime_parser_free(struct mime_parser *mp);

bool mime_part_is_text(const struct mime_part *part);

/* The part that a section-part (RFC 9051 §6.4.5.1, e.g. 4.2.1) names, as
 * Dovecot finds it: in a multipart the nth child, in any other part only
 * "1" (itself), and inside a message/rfc822 part the parts of the
 * encapsulated message's body. depth 0 is the whole message (the root).
 * NULL when there is no such part, or, in a tree still being parsed, when a
 * header on the way has not ended yet (the answer may change). */
struct mime_part *mime_part_find(struct mime_part *root, const uint32_t *path, size_t depth);
/* The parser's tree so far (the root exists from the start). */
struct mime_part *mime_parser_root(struct mime_parser *mp);

#endif
