/* libFuzzer: the passwd-file parser and the password verifier on its entries. */
#include "auth/passdb.h"
#include "auth/password.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct passwd_file f;
    struct buf err = BUF_INIT;
    if (passwd_file_parse("fuzz", (const char *)data, size, &f, &err) == 0) {
        for (size_t i = 0; i < f.n_entries && i < 4; i++) {
            const char *why;
            const struct passwd_entry *e = &f.entries[i];
            /* Only {PLAIN}: the slow schemes would take the fuzzer's time. */
            if (e->password && e->password[0] == '{' && e->password[1] == 'P')
                password_verify(e->password, NULL, "x", 1, &why);
        }
        passwd_file_free(&f);
    }
    buf_free(&err);
    return 0;
}
