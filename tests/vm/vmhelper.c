/* Helpers for tests/vm/run.sh inside the VM, where busybox lacks them:
 *   vmhelper xattr PATH NAME VALUE   set an extended attribute (systemd marks
 *                                    delegated cgroups with trusted.delegate)
 *   vmhelper cgns CMD [ARG...]       run CMD in new cgroup and mount
 *                                    namespaces with cgroup2 mounted at
 *                                    /sys/fs/cgroup, as a container sees it */
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/xattr.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "xattr")) {
        if (setxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0) != 0) {
            perror("setxattr");
            return 1;
        }
        return 0;
    }
    if (argc >= 3 && !strcmp(argv[1], "cgns")) {
        if (unshare(CLONE_NEWCGROUP | CLONE_NEWNS) != 0 ||
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
            umount2("/sys/fs/cgroup", MNT_DETACH) != 0 ||
            mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL) != 0) {
            perror("cgns");
            return 1;
        }
        execv(argv[2], argv + 2);
        perror("execv");
        return 1;
    }
    fprintf(stderr, "usage: vmhelper xattr PATH NAME VALUE | cgns CMD [ARG...]\n");
    return 2;
}
