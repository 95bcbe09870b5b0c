/* One message to one or more recipients' mailboxes: see deliver.h. */
#include "store/deliver.h"

#include "store/store.h"

#include <errno.h>
#include <stdlib.h>

struct deliver_ctx {
    struct store_mailbox *box; /* the first recipient's, opened to append */
    struct store_append_ctx *append;
};

const char *deliver_mailbox(struct store *s, const char *wanted)
{
    if (wanted && *wanted && store_mailbox_exists(s, wanted))
        return wanted;
    return "INBOX";
}

int deliver_begin(struct store *s, const char *mailbox, struct deliver_ctx **out, struct buf *err)
{
    *out = NULL;
    struct deliver_ctx *d = xcalloc(1, sizeof(*d));
    int r = store_mailbox_open_append(s, mailbox, &d->box, err);
    if (r == 0)
        r = store_append_begin(d->box, NULL, &d->append, err);
    if (r < 0) {
        deliver_abort(d);
        return r;
    }
    *out = d;
    return 0;
}

int deliver_write(struct deliver_ctx *d, const void *data, size_t len, struct buf *err)
{
    return store_append_write(d->append, data, len, err);
}

int deliver_finish(struct deliver_ctx *d, struct buf *err)
{
    return store_append_finish(d->append, err);
}

int deliver_commit_also(struct deliver_ctx *d, struct store *s, const char *mailbox, uint32_t *uid,
                        struct buf *err)
{
    struct store_mailbox *box;
    int r = store_mailbox_open_append(s, mailbox, &box, err);
    if (r < 0)
        return r;
    r = store_append_commit_copy(d->append, box, uid, err);
    store_mailbox_close(box);
    return r;
}

int deliver_commit(struct deliver_ctx *d, uint32_t *uid, struct buf *err)
{
    int r = store_append_commit(d->append, uid, err);
    d->append = NULL; /* the commit freed it, whatever it returned */
    deliver_abort(d);
    return r;
}

void deliver_abort(struct deliver_ctx *d)
{
    if (!d)
        return;
    store_append_abort(d->append);
    store_mailbox_close(d->box);
    free(d);
}

bool deliver_error_is_permanent(int err)
{
    return err == -EDQUOT || err == -EFBIG;
}
