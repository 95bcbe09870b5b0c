/* A reader for mbox files (RFC 4155), for `gannet import`: splits the file on
 * From_ lines, undoes mboxrd quoting (">From " -> "From ", ">>From " ->
 * ">From "), and uses a Content-Length header where one is present and
 * agrees with the file (mboxcl), so that an unquoted "From " line inside such
 * a message does not split it.
 *
 * A line is a From_ separator when it is "From " followed by a sender and
 * then nothing or something with a time of day in it ("From - ", "From
 * a@b Mon Jun  3 12:50:27 1996"): the body line "From Russia with love" that
 * mboxo writers leave unquoted is not one. The blank line that writers put
 * before a From_ line belongs to the mbox, not to the message.
 *
 * The file is mapped, not read: memory stays bounded by one message copy. */
#ifndef GANNET_MAIL_MBOX_H
#define GANNET_MAIL_MBOX_H

#include "lib/buf.h"

#include <stddef.h>
#include <time.h>

struct mbox_reader;

struct mbox_message {
    const char *data; /* the message, unquoted; valid until the next mbox_next() */
    size_t len;
    time_t received; /* the From_ line's date (UTC), 0 when it has none */
    size_t offset;   /* where its From_ line starts in the file */
};

/* Opens an mbox file: -1 with a one-line reason in err (not a file, not an
 * mbox: the first line is not a From_ line). */
int mbox_open(const char *path, struct mbox_reader **out, struct buf *err);
/* The same over bytes in memory (not copied: they must outlive the reader). */
int mbox_open_mem(const char *data, size_t len, struct mbox_reader **out, struct buf *err);
/* 1 with the next message in *msg, 0 at the end. */
int mbox_next(struct mbox_reader *r, struct mbox_message *msg);
/* How far the reader got, and the file's size: for progress. */
size_t mbox_position(const struct mbox_reader *r);
size_t mbox_size(const struct mbox_reader *r);
void mbox_close(struct mbox_reader *r);

/* Is line (without its newline) a From_ separator? Exposed for the tests. */
int mbox_is_from_line(const char *line, size_t len);

#endif
