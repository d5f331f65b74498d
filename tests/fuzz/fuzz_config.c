/* `powkit mine --config FILE` with hostile JSON. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "powkit/log.h"
#include "../../cli/mine.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    pk_log_set_level((pk_log_level)-1); /* nothing */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("config", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) == (ssize_t)size) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        char *argv[] = {"mine", "-c", path, NULL};
        pk_mine_cli c;
        char err[512];
        pk_mine_cli_parse(&c, 3, argv, err, sizeof err);
        pk_mine_cli_free(&c);
    }
    close(fd);
    return 0;
}
