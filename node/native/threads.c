/* A pool of worker threads, started on first use and kept (see threads.h). */
#include "threads.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "kernels.h"

/* NOTE: why a pool. Starting and joining a thread per call cost about 35 µs here, a tenth of a LeNet-5
 * layer's product at batch 100. The workers wait on a condition variable between calls; one call runs at a
 * time (`calls` serialises callers, e.g. Node's worker threads sharing the addon). */
typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t wake, done;
  size_t started;                 /* workers running, 1 … started (0 is the caller) */
  unsigned long generation;       /* bumped for every call */
  size_t count, pending;          /* jobs of the current call; workers not yet finished */
  void *(*run)(void *);
  char *jobs;
  size_t size;
} pool_t;

static pool_t pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, NULL, NULL, 0};
static pthread_mutex_t calls = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg) {
  const size_t index = (size_t)arg;
  unsigned long seen = 0;
  pthread_mutex_lock(&pool.lock);
  for (;;) {
    while (pool.generation == seen) pthread_cond_wait(&pool.wake, &pool.lock);
    seen = pool.generation;
    if (index >= pool.count) continue; /* not needed this call */
    void *(*run)(void *) = pool.run;
    void *job = pool.jobs + index * pool.size;
    pthread_mutex_unlock(&pool.lock);
    run(job);
    pthread_mutex_lock(&pool.lock);
    if (--pool.pending == 0) pthread_cond_signal(&pool.done);
  }
  return NULL;
}

void ngrad_run_threads(void *(*run)(void *), void *jobs, size_t size, size_t count) {
  char *job = jobs;
  if (count > NGRAD_CONV_MAX_THREADS) count = NGRAD_CONV_MAX_THREADS;
  if (count <= 1) {
    if (count == 1) run(job);
    return;
  }
  pthread_mutex_lock(&calls);
  pthread_mutex_lock(&pool.lock);
  while (pool.started + 1 < count) {
    pthread_t id;
    if (pthread_create(&id, NULL, worker, (void *)(pool.started + 1)) != 0) break;
    pthread_detach(id);
    pool.started++;
  }
  /* Jobs beyond the workers that could start run on the caller's thread. */
  const size_t shared = pool.started + 1 < count ? pool.started + 1 : count;
  pool.run = run, pool.jobs = job, pool.size = size, pool.count = shared, pool.pending = shared - 1;
  pool.generation++;
  pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.lock);
  run(job);
  for (size_t t = shared; t < count; t++) run(job + t * size);
  pthread_mutex_lock(&pool.lock);
  while (pool.pending > 0) pthread_cond_wait(&pool.done, &pool.lock);
  pthread_mutex_unlock(&pool.lock);
  pthread_mutex_unlock(&calls);
}

float *ngrad_thread_scratch(size_t floats) {
  static _Thread_local float *buffer = NULL;
  static _Thread_local size_t size = 0;
  if (floats <= size) return buffer;
  const size_t want = (floats + floats / 4 + 15) / 16 * 16; /* a quarter more, whole cache lines */
  float *grown = aligned_alloc(64, want * sizeof(float));
  if (grown == NULL) return NULL;
  free(buffer);
  buffer = grown, size = want;
  return buffer;
}
