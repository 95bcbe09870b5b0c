/* Responses (RFC 9051 §7): the one way anything reaches an IMAP client.
 *
 * Text given as a format is ours: fixed words, numbers, our own messages.
 * Bytes a client or a message supplied (a mailbox name, a keyword, header
 * fields, a message) go in only through imap_resp_astring/_nstring/_string,
 * which quote them or send them as literals (lib-imap/imap-quote.h). */
#ifndef GANNET_IMAP_IMAP_RESP_H
#define GANNET_IMAP_IMAP_RESP_H

#include "lib/buf.h"

#include <stddef.h>

struct imap_session;
struct imap_cmd;

/* Response codes (RFC 9051 §7.1, RFC 5530) a completion may carry. */
enum imap_code {
    IMAP_CODE_NONE,
    IMAP_CODE_ALERT,
    IMAP_CODE_ALREADYEXISTS,
    IMAP_CODE_AUTHENTICATIONFAILED,
    IMAP_CODE_AUTHORIZATIONFAILED,
    IMAP_CODE_CANNOT,
    IMAP_CODE_CLIENTBUG,
    IMAP_CODE_EXPUNGEISSUED,
    IMAP_CODE_INUSE,
    IMAP_CODE_LIMIT,
    IMAP_CODE_NONEXISTENT,
    IMAP_CODE_NOPERM,
    IMAP_CODE_OVERQUOTA,
    IMAP_CODE_PRIVACYREQUIRED,
    IMAP_CODE_SERVERBUG,
    IMAP_CODE_TOOBIG,
    IMAP_CODE_TRYCREATE,
    IMAP_CODE_UNAVAILABLE,
    IMAP_CODE_UNKNOWN_CTE,
};

enum imap_status { IMAP_OK, IMAP_NO, IMAP_BAD };

/* An untagged response being built: "* " ... CRLF. */
struct imap_resp {
    struct imap_session *session;
    struct buf line;
};
void imap_resp_begin(struct imap_resp *r, struct imap_session *s);
__attribute__((format(printf, 2, 3))) void imap_resp_text(struct imap_resp *r, const char *fmt,
                                                          ...);
void imap_resp_astring(struct imap_resp *r, const char *s, size_t len);
void imap_resp_string(struct imap_resp *r, const char *s, size_t len);
void imap_resp_nstring(struct imap_resp *r, const char *s);
/* Ends the line and writes it. */
void imap_resp_send(struct imap_resp *r);

/* A whole untagged response of our own text: "* fmt". */
__attribute__((format(printf, 2, 3))) void imap_untagged(struct imap_session *s, const char *fmt,
                                                         ...);
/* A continuation request: "+ text". */
void imap_continue(struct imap_session *s, const char *text);

/* The command's completion: "tag OK|NO|BAD [CODE] text". */
__attribute__((format(printf, 4, 5))) void imap_cmd_reply(struct imap_cmd *cmd,
                                                          enum imap_status status,
                                                          enum imap_code code, const char *fmt,
                                                          ...);
/* NO for a store error (store.h's negative errno codes), with the response
 * code a client acts on: -ENOENT NONEXISTENT, -EEXIST ALREADYEXISTS, ... */
void imap_cmd_store_error(struct imap_cmd *cmd, int err);
/* The code and text imap_cmd_store_error would give. */
enum imap_code imap_store_error_code(int err, const char **text);

/* A completion for a tag the parser read when no command runs (BAD for a
 * malformed or unknown command); tag NULL gives "*". */
void imap_tagged_bad(struct imap_session *s, const char *tag, const char *text);

#endif
