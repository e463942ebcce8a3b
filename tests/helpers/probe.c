/* probe: attempts one forbidden thing, named by argv[1], and prints "OK" or
 * "ERR <errno>" on stdout; exit 0 when the attempt succeeded, 1 when it was
 * refused, 2 on usage. Run inside the sandbox by the sandbox tests. Plain C,
 * no kiln code. Network modes only ever target loopback. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int report(long r)
{
    if (r >= 0) {
        puts("OK");
        return 0;
    }
    printf("ERR %d\n", errno);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: probe read-file PATH | write-file PATH | connect-tcp PORT | "
                        "socket-inet | ptrace | mount | unshare | keyctl | env NAME\n");
        return 2;
    }
    const char *m = argv[1];
    const char *a = argc > 2 ? argv[2] : "";
    if (!strcmp(m, "read-file"))
        return report(open(a, O_RDONLY));
    if (!strcmp(m, "write-file"))
        return report(open(a, O_WRONLY | O_CREAT, 0644));
    if (!strcmp(m, "socket-inet"))
        return report(socket(AF_INET, SOCK_STREAM, 0));
    if (!strcmp(m, "connect-tcp")) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0)
            return report(-1);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)strtol(a, NULL, 10))};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return report(connect(s, (struct sockaddr *)&sa, sizeof(sa)));
    }
    if (!strcmp(m, "ptrace"))
        return report(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
    if (!strcmp(m, "mount"))
        return report(mount("tmpfs", "/tmp", "tmpfs", 0, NULL));
    if (!strcmp(m, "unshare"))
        return report(unshare(CLONE_NEWUSER));
    if (!strcmp(m, "keyctl"))
        return report(syscall(SYS_keyctl, 0L, -3L, 0L));
    if (!strcmp(m, "env")) {
        const char *v = getenv(a);
        errno = ENOENT;
        return report(v ? 0 : -1);
    }
    fprintf(stderr, "probe: unknown mode '%s'\n", m);
    return 2;
}
