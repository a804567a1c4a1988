#ifndef VSTREAM_SANDBOX_H
#define VSTREAM_SANDBOX_H
#include <stdint.h>
#include <sys/types.h>

// The Linux calls a supervised transcoder needs, in C because Swift's Glibc module does
// not import them (they sit behind _GNU_SOURCE). Each returns 0 or -errno.

/// Kill this process with SIGKILL when its parent dies (no orphaned transcoders).
int vstream_die_with_parent(void);
/// Close every descriptor from `lowest` up (none of the parent's sockets or files leak in).
int vstream_close_from(int lowest);
/// No privileges can be gained through exec (setuid binaries, file capabilities).
int vstream_no_new_privileges(void);
/// Move this process into a new, empty network namespace: no interface but a loopback
/// that is down. Tries a plain namespace (root, CAP_SYS_ADMIN), then a user namespace
/// that maps our own uid and gid. Must run while the process has one thread.
/// Returns 0 (isolated), or -errno when the kernel allows neither.
int vstream_isolate_network(void);
/// The parent's half: caps `pid`'s address space (RLIMIT_AS) at `bytes`.
int vstream_limit_address_space(pid_t pid, uint64_t bytes);
#endif
