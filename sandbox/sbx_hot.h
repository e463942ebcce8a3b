/*
 * sbx_hot: the pages every copy of a warm parent writes, copied at once.
 *
 * A child forked from the warm parent shares its memory copy-on-write, and
 * the first write to each shared page is a page fault that copies it. The
 * first Python code a child runs (CPython's after-fork work, the runner's
 * first call) writes to some hundreds of pages spread over the heap: a
 * fault each. On a virtual machine that virtualises page tables in software
 * a fault costs tens of microseconds, several times what the kernel takes
 * to copy the same page inside one madvise(MADV_POPULATE_WRITE) call.
 *
 * sbx_hot_learn() forks a probe that runs the given work once and reports
 * which pages of the parent's private writable mappings that work wrote
 * (/proc/self/pagemap: present and no longer shared); every later child
 * calls sbx_hot_populate() to copy those pages in a few system calls.
 * Best effort both: a kernel without MADV_POPULATE_WRITE (before 5.14) or
 * pagemap only loses the speed-up, never correctness (the contents are the
 * same either way; only when the copy happens changes).
 */
#pragma once

#include <stddef.h>

/* In the warm parent, after its warm-up: learn the pages work() writes in a
 * fresh copy of this process. work runs in a forked probe with stdin,
 * stdout and stderr on /dev/null and must not return to the caller's
 * logic (the probe _exit()s after it). Replaces what an earlier call
 * learnt. */
void sbx_hot_learn(void (*work)(void));

/* In a child of the warm parent (or of its copies): copy the learnt pages
 * now. Async-signal-safe. */
void sbx_hot_populate(void);

/* Pages learnt (0: none, or not learnt). */
size_t sbx_hot_pages(void);
