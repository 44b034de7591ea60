/* Runs jobs on POSIX threads (conv.c, local.c). */
#ifndef NGRAD_THREADS_H
#define NGRAD_THREADS_H

#include <stddef.h>

/* run(job) for each of `count` jobs (`size` bytes apart from `jobs`), each on its own thread, the caller's
 * among them; a job whose thread cannot start runs on the caller's thread. Returns when all have finished. */
void ngrad_run_threads(void *(*run)(void *), void *jobs, size_t size, size_t count);

#endif
