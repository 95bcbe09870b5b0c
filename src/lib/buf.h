/* Growable byte buffer with explicit length: the one string builder of gannet
 * (DESIGN.md: no strcpy/sprintf/strcat). The data is always NUL-terminated so
 * that it can be handed to C APIs, but may also contain NULs. */
#ifndef GANNET_LIB_BUF_H
#define GANNET_LIB_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

void buf_init(struct buf *b);
void buf_free(struct buf *b);
/* Drops the content, keeps the allocation. */
void buf_reset(struct buf *b);
/* Makes room for n more bytes; aborts on allocation failure. */
void buf_reserve(struct buf *b, size_t n);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
__attribute__((format(printf, 2, 3))) void buf_printf(struct buf *b, const char *fmt, ...);
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Always a valid C string, "" for an empty buffer. */
const char *buf_cstr(const struct buf *b);
/* Hands the allocation to the caller (never NULL) and empties the buffer. */
char *buf_steal(struct buf *b);
/* Overwrites the content with zeros before freeing: for secrets. */
void buf_free_secret(struct buf *b);

/* Allocation helpers that abort instead of returning NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
