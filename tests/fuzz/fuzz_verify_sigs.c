/* `powkit verify-sigs` on a hostile stream of lines (NULs, long lines,
 * bad JSON, bad hex), exactly as the command reads it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "powkit/log.h"
#include "../../cli/commands.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    pk_log_set_level((pk_log_level)-1); /* nothing */
    int nul = open("/dev/null", O_WRONLY);
    dup2(nul, 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("lines", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) == (ssize_t)size) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        char *argv[] = {"verify-sigs", path, "--threads", "1", NULL};
        int saved = dup(2), nul = open("/dev/null", O_WRONLY);
        dup2(nul, 2); /* the summary line */
        pk_cmd_verify_sigs(4, argv);
        dup2(saved, 2);
        close(saved);
        close(nul);
    }
    close(fd);
    return 0;
}
