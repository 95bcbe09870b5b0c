/* libFuzzer: the configuration parser on arbitrary file contents. */
#include "lib/settings.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[] = "/tmp/gannet-fuzz-config-XXXXXX";
    static int fd = -1;
    if (fd < 0 && (fd = mkstemp(path)) < 0)
        return 0;
    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    struct settings s;
    struct buf err = BUF_INIT;
    if (settings_load(path, &s, &err) == 0) {
        struct buf dump = BUF_INIT;
        settings_dump_changed(&s, &dump);
        buf_free(&dump);
        settings_free(&s);
    }
    buf_free(&err);
    return 0;
}
