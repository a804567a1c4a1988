#define _GNU_SOURCE
#include "sandbox.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int vstream_die_with_parent(void) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return -errno;
    // The parent may have died before the call: then we were re-parented already.
    if (getppid() == 1) return -ESRCH;
    return 0;
}

int vstream_close_from(int lowest) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)lowest, ~0U, 0) == 0) return 0;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = lowest; fd < (max > 0 ? max : 65536); fd++) close((int)fd);
    return 0;
}

int vstream_no_new_privileges(void) {
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : -errno;
}

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    ssize_t length = (ssize_t)strlen(text);
    int result = write(fd, text, (size_t)length) == length ? 0 : -errno;
    close(fd);
    return result;
}

int vstream_isolate_network(void) {
    if (unshare(CLONE_NEWNET) == 0) return 0;
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) return -errno;
    char map[64];
    // Map our own ids onto themselves, so files keep their owner.
    if (write_file("/proc/self/setgroups", "deny") != 0) return -errno;
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
    if (write_file("/proc/self/uid_map", map) != 0) return -errno;
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)gid, (unsigned)gid);
    if (write_file("/proc/self/gid_map", map) != 0) return -errno;
    return 0;
}

int vstream_limit_address_space(pid_t pid, uint64_t bytes) {
    struct rlimit limit = { .rlim_cur = bytes, .rlim_max = bytes };
    return prlimit(pid, RLIMIT_AS, &limit, NULL) == 0 ? 0 : -errno;
}
