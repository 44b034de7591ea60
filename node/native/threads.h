/* Runs jobs on POSIX threads (conv.c, local.c). */
#ifndef NGRAD_THREADS_H
#define NGRAD_THREADS_H

#include <stddef.h>

/* run(job) for each of `count` jobs (`size` bytes apart from `jobs`), each on its own thread: the caller's and
 * a pool's workers (started on first use and kept); a job whose worker cannot start runs on the caller's
 * thread. Returns when all have finished. */
void ngrad_run_threads(void *(*run)(void *), void *jobs, size_t size, size_t count);

/* A 64-byte aligned scratch buffer of at least `floats` floats for the calling thread, kept between calls
 * (and reused by the next one on this thread), or NULL if out of memory. NOTE: kept because a fresh buffer
 * of this size comes from mmap: its pages fault in on every call, which cost LeNet-5's second layer's input
 * error as much as its arithmetic. Each thread (Node's workers included) has its own. */
float *ngrad_thread_scratch(size_t floats);

#endif
